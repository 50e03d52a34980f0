"""API key owner: a key issued to a user acts for that user, and only while they may act

Revision ID: 0009_api_key_owner
Revises: 0008_delivery_requeues
Create Date: 2026-12-06

``api_keys.owner_id``: the user a key acts for (a compatibility layer's token, issued through
``core.issue_user_key``). Such a key is refused once its owner is deactivated or removed, and
reaches only what the owner's current role reaches. ``created_by`` stays who made a key: a
system key an admin created keeps working when that admin leaves.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_api_key_owner"
down_revision = "0008_delivery_requeues"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("owner_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key("fk_api_keys_owner_id_users", "users", ["owner_id"], ["id"], ondelete="CASCADE")
        batch.create_index("ix_api_keys_owner_id", ["owner_id"])


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("ix_api_keys_owner_id")
        batch.drop_constraint("fk_api_keys_owner_id_users", type_="foreignkey")
        batch.drop_column("owner_id")
