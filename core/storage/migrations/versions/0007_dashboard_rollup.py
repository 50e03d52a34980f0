"""dashboard rollup: hourly counts of messages, deliveries and attempt outcomes

Revision ID: 0007_dashboard_rollup
Revises: 0006_message_recipient
Create Date: 2026-11-29

``rollup_hours`` (one row per hour rolled up) and ``rollup_counts`` (its counts), kept by the
``dashboard_rollup`` cron job (``core.operations.rollup``), so the dashboard reads closed hours
from a few hundred rows rather than every row of its window; and ``delivery_attempts
(started_at)``, so an hour's attempt outcomes are an index range.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.storage.db

revision = "0007_dashboard_rollup"
down_revision = "0006_message_recipient"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollup_hours",
        sa.Column("hour", core.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rolled_at", core.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hour", name=op.f("pk_rollup_hours")),
    )
    op.create_table(
        "rollup_counts",
        sa.Column("hour", core.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "metric", "name", name=op.f("pk_rollup_counts")),
    )
    op.create_index(op.f("ix_delivery_attempts_started_at"), "delivery_attempts", ["started_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_attempts_started_at"), table_name="delivery_attempts")
    op.drop_table("rollup_counts")
    op.drop_table("rollup_hours")
