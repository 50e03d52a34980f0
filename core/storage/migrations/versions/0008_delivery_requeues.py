"""delivery requeues: each requeue starts a fresh budget of attempts

Revision ID: 0008_delivery_requeues
Revises: 0007_dashboard_rollup
Create Date: 2026-12-06

``deliveries.requeues`` (how many times an operator requeued it), ``budget_start`` (its
``attempt_count`` when last requeued) and ``requeued_at``: a destination sees the attempt
number, the budget and the previous attempt's detail of the current budget only, and the
requeue count, so that what it counts per delivery (CEEMIS's sends, say) starts again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.storage.db

revision = "0008_delivery_requeues"
down_revision = "0007_dashboard_rollup"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("requeues", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("budget_start", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("requeued_at", core.storage.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("requeued_at")
        batch.drop_column("budget_start")
        batch.drop_column("requeues")
