"""roles: roles made of permissions, defined in the console or the API

Revision ID: 0011_roles
Revises: 0010_job_run_ticks
Create Date: 2026-12-06

``roles``: a role an admin defines at run time (beside the built-in ones and ``[auth.roles]``):
its name (what ``users.role`` holds), a description and the permissions it is made of.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import core.storage.db

revision = "0011_roles"
down_revision = "0010_job_run_ticks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "permissions", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", core.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_roles")),
    )


def downgrade() -> None:
    op.drop_table("roles")
