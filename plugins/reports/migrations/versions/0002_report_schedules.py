"""report schedules defined through the API, and one row per schedule tick (its claim)

Revision ID: 0002_report_schedules
Revises: 0001_reports
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from core import UTCDateTime

revision = "0002_report_schedules"
down_revision = "0001_reports"
branch_labels = None
depends_on = None

JSONType = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "report_schedules",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("definition", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_report_schedules")),
    )
    op.create_table(
        "report_schedule_runs",
        sa.Column("schedule", sa.String(length=64), nullable=False),
        sa.Column("tick_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claimed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("schedule", "tick_at", name=op.f("pk_report_schedule_runs")),
    )
    op.create_index(op.f("ix_report_schedule_runs_report_id"), "report_schedule_runs", ["report_id"])
    op.create_index(op.f("ix_report_schedule_runs_state"), "report_schedule_runs", ["state"])


def downgrade() -> None:
    op.drop_table("report_schedule_runs")
    op.drop_table("report_schedules")
