"""schedules switched on or off by admins; who ran a schedule's run now

Revision ID: 0003_report_schedule_states
Revises: 0002_report_schedules
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core import UTCDateTime

revision = "0003_report_schedule_states"
down_revision = "0002_report_schedules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_schedule_states",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_report_schedule_states")),
    )
    with op.batch_alter_table("report_schedule_runs") as batch:
        batch.add_column(sa.Column("requested_by", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report_schedule_runs") as batch:
        batch.drop_column("requested_by")
    op.drop_table("report_schedule_states")
