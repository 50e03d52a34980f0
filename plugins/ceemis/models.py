"""The plugin's tables: helpline cases sent to CEEMIS, and the updates of each case.

Core message ids are stored without a foreign key: plugins do not reference core tables.
"""

from __future__ import annotations

import sqlalchemy as sa

from core import NAMING, SealedJSON, UTCDateTime

metadata = sa.MetaData(naming_convention=NAMING)  # the core's, so constraint names read alike

Uuid = sa.Uuid(as_uuid=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# One row per helpline case (its create message), written when the case is received, before
# the message is committed (so the case is known the moment the helpline has its answer).
# state: received, queued (routed to ceemis), sending, retrying, delivered, failed.
cases = sa.Table(
    "ceemis_cases",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("external_id", sa.String(255), nullable=False, unique=True),
    sa.Column("message_id", Uuid, nullable=False, unique=True),
    sa.Column("src", sa.String(64), nullable=False),
    sa.Column("src_uid", sa.String(255), nullable=False, index=True),
    sa.Column("src_callid", sa.String(255), nullable=False, index=True),
    sa.Column("ceemis_id", sa.String(255), index=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # While a send is in flight: when its hold on the row runs out (a second attempt of the
    # same delivery, or a killed worker's, may send only after that).
    sa.Column("sending_until", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # The CEEMIS form fields the case holds: its create as sent, with each delivered update's
    # fields over it. An update fills what CEEMIS requires of it from here (``update_from_case``).
    sa.Column("form", SealedJSON),  # the case as filed: sealed with a [privacy] key
)

# One row per update message, in the order received. ref is what the helpline named the
# case by (its src_uid or src_callid, the gateway's message id, or a CEEMIS id).
# state: received, queued, waiting, sending, retrying, delivered, failed.
case_updates = sa.Table(
    "ceemis_case_updates",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("external_id", sa.String(255), nullable=False, unique=True),
    sa.Column("message_id", Uuid, nullable=False, unique=True),
    sa.Column("ref", sa.String(255), nullable=False),
    sa.Column("status", sa.String(64)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # While a send is in flight: when its hold on the row runs out (a second attempt of the
    # same delivery, or a killed worker's, may send only after that).
    sa.Column("sending_until", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index(None, "ref", "received_at"),
)
