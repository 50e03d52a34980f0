"""ceemis tables: helpline cases and their updates

Revision ID: 0001_ceemis
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_ceemis"
down_revision = None
branch_labels = ("ceemis",)
depends_on = "0001_core"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ceemis_cases",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("src", sa.String(length=64), nullable=False),
        sa.Column("src_uid", sa.String(length=255), nullable=False),
        sa.Column("src_callid", sa.String(length=255), nullable=False),
        sa.Column("ceemis_id", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sending_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ceemis_cases")),
        sa.UniqueConstraint("external_id", name=op.f("uq_ceemis_cases_external_id")),
        sa.UniqueConstraint("message_id", name=op.f("uq_ceemis_cases_message_id")),
    )
    for column in ("src_uid", "src_callid", "ceemis_id"):
        op.create_index(op.f(f"ix_ceemis_cases_{column}"), "ceemis_cases", [column], unique=False)

    op.create_table(
        "ceemis_case_updates",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("ref", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sending_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ceemis_case_updates")),
        sa.UniqueConstraint("external_id", name=op.f("uq_ceemis_case_updates_external_id")),
        sa.UniqueConstraint("message_id", name=op.f("uq_ceemis_case_updates_message_id")),
    )
    op.create_index(
        op.f("ix_ceemis_case_updates_ref_received_at"), "ceemis_case_updates", ["ref", "received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("ceemis_case_updates")
    op.drop_table("ceemis_cases")
