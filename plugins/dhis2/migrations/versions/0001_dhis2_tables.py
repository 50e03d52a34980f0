"""dhis2 tables: data-value mappings and org-unit mappings

Revision ID: 0001_dhis2
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_dhis2"
down_revision = None
branch_labels = ("dhis2",)
depends_on = "0001_core"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dhis2_data_value_mappings",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("dataset", sa.String(length=11), nullable=False),
        sa.Column("data_element", sa.String(length=11), nullable=False),
        sa.Column("category_option_combo", sa.String(length=11), nullable=True),
        sa.Column("attribute_option_combo", sa.String(length=11), nullable=True),
        sa.Column("category_option", sa.String(length=11), nullable=True),
        sa.Column("category_combo", sa.String(length=11), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("instance_name", sa.String(length=100), nullable=True),
        sa.Column("source_name", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dhis2_data_value_mappings")),
        sa.UniqueConstraint("code", "dataset", name=op.f("uq_dhis2_data_value_mappings_code_dataset")),
    )
    for columns in (["data_element", "id"], ["dataset", "id"], ["instance_name", "id"], ["source_name", "id"]):
        op.create_index(
            op.f(f"ix_dhis2_data_value_mappings_{columns[0]}_id"), "dhis2_data_value_mappings", columns, unique=False
        )

    op.create_table(
        "dhis2_org_unit_mappings",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("instance", sa.String(length=100), server_default="", nullable=False),
        sa.Column("org_unit", sa.String(length=11), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("source_name", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dhis2_org_unit_mappings")),
        sa.UniqueConstraint("code", "instance", name=op.f("uq_dhis2_org_unit_mappings_code_instance")),
    )
    for columns in (["instance", "id"], ["org_unit", "id"]):
        op.create_index(
            op.f(f"ix_dhis2_org_unit_mappings_{columns[0]}_id"), "dhis2_org_unit_mappings", columns, unique=False
        )


def downgrade() -> None:
    op.drop_table("dhis2_org_unit_mappings")
    op.drop_table("dhis2_data_value_mappings")
