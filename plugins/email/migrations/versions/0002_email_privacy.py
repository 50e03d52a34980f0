"""email: room for participant identifiers sealed with a [privacy] key

Revision ID: 0002_email_privacy
Revises: 0001_email
Create Date: 2026-12-06

With ``[privacy] key`` set, identifiers are stored sealed (AES-SIV: about 1.4 times their length
plus 15 characters; docs/privacy.md): their columns widen to 512 characters. SQLite does not
hold a column to its declared length: nothing to do there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_email_privacy"
down_revision = "0001_email"
branch_labels = None
depends_on = None

_WIDENED = (
    ("email_threads", "key", 255),
    ("email_threads", "reply_to", 254),
    ("email_message_ids", "thread_key", 255),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column, length in _WIDENED:
            op.alter_column(table, column, type_=sa.String(512), existing_type=sa.String(length))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column, length in _WIDENED:
            op.alter_column(table, column, type_=sa.String(length), existing_type=sa.String(512))
