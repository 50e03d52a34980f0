"""ceemis: the CEEMIS form fields each case holds, so an update can carry what CEEMIS requires

Revision ID: 0002_ceemis_case_form
Revises: 0001_ceemis
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_ceemis_case_form"
down_revision = "0001_ceemis"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ceemis_cases", sa.Column("form", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ceemis_cases") as batch:
        batch.drop_column("form")
