"""privacy: erasure and export requests, and how far retention has come per platform

Revision ID: 0013_privacy_requests
Revises: 0012_attempt_exchange
Create Date: 2026-12-06

``privacy_requests``: each erasure of a person (what was erased, per table, never whom) and each
export (the participant only while it waits; its file until it expires). ``privacy_retention``:
per platform, the last message id whose content the retention job has erased, so each run
starts where the last one stopped instead of scanning erased rows again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import core.storage.db

revision = "0013_privacy_requests"
down_revision = "0012_attempt_exchange"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("participant", sa.String(length=255), nullable=True),
        sa.Column("requested_by", sa.String(length=255), nullable=True),
        sa.Column("created_at", core.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", core.storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("counts", JSON, nullable=True),
        sa.Column("file", sa.String(length=255), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    op.create_index(op.f("ix_privacy_requests_kind_id"), "privacy_requests", ["kind", "id"], unique=False)
    op.create_table(
        "privacy_retention",
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("erased_through", sa.Uuid(), nullable=False),
        sa.Column("updated_at", core.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", name=op.f("pk_privacy_retention")),
    )


def downgrade() -> None:
    op.drop_table("privacy_retention")
    op.drop_index(op.f("ix_privacy_requests_kind_id"), table_name="privacy_requests")
    op.drop_table("privacy_requests")
