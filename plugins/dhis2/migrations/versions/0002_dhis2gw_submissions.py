"""dhis2 table: dhis2gw compatibility submissions (integer ids over messages and deliveries)

Revision ID: 0002_dhis2gw
Revises: 0001_dhis2
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_dhis2gw"
down_revision = "0001_dhis2"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dhis2gw_submissions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("delivery_id", sa.Uuid(), nullable=True),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dhis2gw_submissions")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_dhis2gw_submissions_delivery_id")),
    )
    op.create_index(op.f("ix_dhis2gw_submissions_submitted_at"), "dhis2gw_submissions", ["submitted_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dhis2gw_submissions_submitted_at"), table_name="dhis2gw_submissions")
    op.drop_table("dhis2gw_submissions")
