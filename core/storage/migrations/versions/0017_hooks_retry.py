"""message_hooks_pending: a plugin's stored-message hook that raised is run again, alone

Revision ID: 0017_hooks_retry
Revises: 0016_messages_hooks_pending
Create Date: 2026-12-06

A ``switchboard_messages_stored`` hook that raised (its database unreachable for a moment, a
bug) was logged and its messages marked done: what it would have recorded (an opt-out, an
e-mail thread, a case's turn) was lost for good. Now its messages stay pending for that
plugin alone: ``plugins`` names the plugins whose hooks are left to run (null: every plugin's),
``attempts`` counts the runs, ``retry_at`` says when the sweeper runs them again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import core.storage.db

revision = "0017_hooks_retry"
down_revision = "0016_messages_hooks_pending"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message_hooks_pending") as batch:
        batch.add_column(
            sa.Column(
                "plugins", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
            )
        )
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("retry_at", core.storage.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message_hooks_pending") as batch:
        batch.drop_column("retry_at")
        batch.drop_column("attempts")
        batch.drop_column("plugins")
