"""destination state: each destination's circuit breaker

Revision ID: 0004_destination_state
Revises: 0003_job_runs
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.storage.db

revision = "0004_destination_state"
down_revision = "0003_job_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "destination_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("failure_streak", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cooldown", sa.Float(), nullable=True),
        sa.Column("probe_at", core.storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("probe_until", core.storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_since", core.storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_by", sa.String(length=255), nullable=True),
        sa.Column("last_success_at", core.storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", core.storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", core.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_destination_state")),
    )


def downgrade() -> None:
    op.drop_table("destination_state")
