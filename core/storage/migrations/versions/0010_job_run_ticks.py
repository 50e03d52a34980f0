"""job runs: the tick each scheduled run was for

Revision ID: 0010_job_run_ticks
Revises: 0009_api_key_owner
Create Date: 2026-12-06

``job_runs.tick``: the UTC wall-clock tick a scheduled run (or a ``skipped`` record) was for,
so a late or skipped tick is told apart from the one after it; NULL for a run made on request.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.storage.db

revision = "0010_job_run_ticks"
down_revision = "0009_api_key_owner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("tick", core.storage.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_column("tick")
