"""email tables: threads, Message-IDs and seen webhook tokens

Revision ID: 0001_email
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_email"
down_revision = None
branch_labels = ("email",)
depends_on = "0001_core"


def upgrade() -> None:
    op.create_table(
        "email_threads",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("reply_to", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("last_message_id", sa.String(length=255), nullable=False),
        sa.Column("refs", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_email_threads")),
    )
    op.create_table(
        "email_message_ids",
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("thread_key", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_email_message_ids")),
    )
    op.create_table(
        "email_seen_tokens",
        sa.Column("token", sa.String(length=255), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_email_seen_tokens")),
    )
    op.create_index(op.f("ix_email_seen_tokens_seen_at"), "email_seen_tokens", ["seen_at"])


def downgrade() -> None:
    op.drop_table("email_seen_tokens")
    op.drop_table("email_message_ids")
    op.drop_table("email_threads")
