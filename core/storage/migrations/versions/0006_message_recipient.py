"""message recipient index: the console's messages of a participant (sender or recipient)

Revision ID: 0006_message_recipient
Revises: 0005_console_indexes
Create Date: 2026-11-29

A participant's messages are those they sent (``ix_messages_sender_id``) and those sent to
them: ``messages (recipient, id)`` lets that second half be a keyset scan too, newest first,
instead of a walk of the whole table for an outbound conversation partner.
"""

from __future__ import annotations

from alembic import op

revision = "0006_message_recipient"
down_revision = "0005_console_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_recipient_id", "messages", ["recipient", "id"])


def downgrade() -> None:
    op.drop_index("ix_messages_recipient_id", table_name="messages")
