"""The plugin's tables: sent messages by ``wamid``, contacts' opt-out state, downloaded media.

Core message ids are stored without a foreign key: plugins do not reference core tables, and
a message removed by retention leaves at most a small orphan row here.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from core import NAMING, ParticipantRef, UTCDateTime

metadata = sa.MetaData(naming_convention=NAMING)  # the core's, so constraint names read alike


# Python None is SQL NULL (not JSON null), so COALESCE in the status upserts sees it as absent.
JSONType = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
Uuid = sa.Uuid(as_uuid=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Every message the destination sent, and what Meta's statuses said of it. A status may
# arrive before the send's answer is recorded, so either side may create the row.
outbound = sa.Table(
    "whatsapp_outbound",
    metadata,
    sa.Column("wamid", sa.String(255), primary_key=True),
    sa.Column("message_id", Uuid, index=True),
    sa.Column("delivery_id", Uuid),
    sa.Column("recipient", ParticipantRef()),  # sealed with a [privacy] key
    sa.Column("phone_number_id", sa.String(32)),
    # accepted | sent | delivered | read | played | failed (the furthest reached; see statuses.py)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_rank", sa.SmallInteger, nullable=False),
    sa.Column("accepted_at", UTCDateTime),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("delivered_at", UTCDateTime),
    sa.Column("read_at", UTCDateTime),
    sa.Column("played_at", UTCDateTime),
    sa.Column("failed_at", UTCDateTime),
    sa.Column("errors", JSONType),
    sa.Column("conversation", JSONType),
    sa.Column("pricing", JSONType),
    # biz_opaque_callback_data: the sender's own, or "sb:<idempotency key>" set by the destination.
    sa.Column("callback_data", sa.String(512), index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

contacts = sa.Table(
    "whatsapp_contacts",
    metadata,
    sa.Column("wa_id", ParticipantRef(), primary_key=True),  # sealed with a [privacy] key
    sa.Column("opted_out", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("opted_out_at", UTCDateTime),
    sa.Column("opted_in_at", UTCDateTime),
    # The keyword that last changed the state, as the contact wrote it.
    sa.Column("keyword", sa.String(64)),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

media = sa.Table(
    "whatsapp_media",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("message_id", Uuid, nullable=False),
    sa.Column("media_id", sa.String(128), nullable=False, index=True),
    # pending | downloading | retrying | stored | rejected (size, type, checksum) | failed
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime),
    # While downloading: when the claim expires (a killed worker's download is picked up after it).
    sa.Column("lease_until", UTCDateTime),
    sa.Column("mime_type", sa.String(255)),
    sa.Column("sha256", sa.String(64)),
    sa.Column("size", sa.BigInteger),
    sa.Column("path", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("stored_at", UTCDateTime),
    sa.UniqueConstraint("message_id", "media_id"),
    sa.Index(None, "status", "next_attempt_at"),
)
