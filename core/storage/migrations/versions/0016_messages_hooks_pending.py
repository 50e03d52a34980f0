"""message_hooks_pending: plugins' stored-message hooks run at least once

Revision ID: 0016_messages_hooks_pending
Revises: 0015_messages_kind_direction
Create Date: 2026-12-06

A batch's ``switchboard_messages_stored`` hooks run after its commit; a process stopped in
between (a crash, a kill) lost them for good, and the platform's retry of the webhook is a
duplicate, whose hooks do not run. While hooks are registered, each new message gets a row
here in its ingest transaction, deleted once its hooks have run; the sweeper runs the hooks of
rows left behind. A table of its own rather than a flag on ``messages``: clearing a flag would
rewrite each message row in all of its indexes (it doubled the database's work per webhook).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.storage.db

revision = "0016_messages_hooks_pending"
down_revision = "0015_messages_kind_direction"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_hooks_pending",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("received_at", core.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_hooks_pending_message_id_messages"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_hooks_pending")),
    )
    op.create_index("ix_message_hooks_pending_received_at", "message_hooks_pending", ["received_at"])


def downgrade() -> None:
    op.drop_table("message_hooks_pending")
