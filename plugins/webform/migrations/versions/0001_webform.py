"""webform tables: organisations and e-mail verifications

Revision ID: 0001_webform
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_webform"
down_revision = None
branch_labels = ("webform",)
depends_on = "0001_core"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "webform_organisations",
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("origins", sa.JSON(), nullable=False),
        sa.Column("notify", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_webform_organisations")),
    )
    op.create_table(
        "webform_verifications",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("organisation", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webform_verifications")),
    )
    op.create_index(
        op.f("ix_webform_verifications_email_created_at"), "webform_verifications", ["email", "created_at"]
    )
    op.create_index(
        op.f("ix_webform_verifications_email_organisation_id"),
        "webform_verifications",
        ["email", "organisation", "id"],
    )


def downgrade() -> None:
    op.drop_table("webform_verifications")
    op.drop_table("webform_organisations")
