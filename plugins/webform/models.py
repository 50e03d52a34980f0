"""The plugin's tables: organisations added through the API, and pending e-mail verifications."""

from __future__ import annotations

import sqlalchemy as sa

from core import NAMING, ParticipantRef, UTCDateTime

metadata = sa.MetaData(naming_convention=NAMING)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Organisations managed through /plugins/webform/organisations (those of config.toml are not here).
organisations = sa.Table(
    "webform_organisations",
    metadata,
    sa.Column("slug", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("origins", sa.JSON, nullable=False),
    sa.Column("notify", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# One row per code sent. The newest unconsumed row of (email, organisation) is the pending one;
# the rows of the last send_window count the sends to an e-mail. code_hash is
# SHA-256(salt + code): the code itself is never stored.
verifications = sa.Table(
    "webform_verifications",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("email", ParticipantRef(), nullable=False),  # sealed with a [privacy] key
    sa.Column("organisation", sa.String(64), nullable=False),
    sa.Column("salt", sa.String(32), nullable=False),
    sa.Column("code_hash", sa.String(64), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("consumed_at", UTCDateTime),
    sa.Index(None, "email", "created_at"),
    sa.Index(None, "email", "organisation", "id"),
)

# Codes sent to each address in its current send_window: one row per address, counted by a
# single conditional upsert (webform.otp.count_send), so concurrent requests in any number of
# processes cannot send more than max_sends between them.
send_counts = sa.Table(
    "webform_send_counts",
    metadata,
    sa.Column("email", ParticipantRef(), primary_key=True),
    sa.Column("window_start", UTCDateTime, nullable=False),
    sa.Column("sends", sa.Integer, nullable=False),
)
