"""webform: codes sent to each address, counted atomically

Revision ID: 0002_webform_send_counts
Revises: 0001_webform
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_webform_send_counts"
down_revision = "0001_webform"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webform_send_counts",
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_webform_send_counts")),
    )


def downgrade() -> None:
    op.drop_table("webform_send_counts")
