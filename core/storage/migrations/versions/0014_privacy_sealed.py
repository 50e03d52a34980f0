"""privacy: room for sealed personal data, and the keys that sealed it

Revision ID: 0014_privacy_sealed
Revises: 0013_privacy_requests
Create Date: 2026-12-06

With ``[privacy] key`` set, participant identifiers are stored sealed (AES-SIV, about 1.4 times
their length plus 15 characters) and content as sealed text (docs/privacy.md): the identifier
columns widen to 512 characters, the sender's name becomes text. ``privacy_keys``: the data
keys that have sealed something, so a start with one of them missing is refused.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.storage.db

revision = "0014_privacy_sealed"
down_revision = "0013_privacy_requests"
branch_labels = None
depends_on = None

_WIDENED = (("conversations", "participant"), ("messages", "sender"), ("messages", "recipient"))


def _postgresql() -> bool:
    # SQLite does not hold a column to its declared length: nothing to widen (and no table to copy).
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    if _postgresql():
        for table, column in _WIDENED:
            op.alter_column(table, column, type_=sa.String(512), existing_type=sa.String(255))
        op.alter_column("messages", "sender_name", type_=sa.Text(), existing_type=sa.String(255))
        op.alter_column("privacy_requests", "participant", type_=sa.Text(), existing_type=sa.String(255))
    op.create_table(
        "privacy_keys",
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("first_used_at", core.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", core.storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_privacy_keys")),
    )


def downgrade() -> None:
    op.drop_table("privacy_keys")
    if _postgresql():
        # Only values that fit: sealed ones must be opened first (``privacy rotate-key`` without a key is not
        # offered; downgrade a database that never had a key).
        op.alter_column("messages", "sender_name", type_=sa.String(255), existing_type=sa.Text())
        op.alter_column("privacy_requests", "participant", type_=sa.String(255), existing_type=sa.Text())
        for table, column in _WIDENED:
            op.alter_column(table, column, type_=sa.String(255), existing_type=sa.String(512))
