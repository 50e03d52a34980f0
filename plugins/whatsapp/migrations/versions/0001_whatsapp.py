"""whatsapp tables

Revision ID: 0001_whatsapp
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from core import UTCDateTime

revision = "0001_whatsapp"
down_revision = None
branch_labels = ("whatsapp",)
depends_on = "0001_core"


def upgrade() -> None:
    op.create_table(
        "whatsapp_contacts",
        sa.Column("wa_id", sa.String(length=64), nullable=False),
        sa.Column("opted_out", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("opted_out_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("opted_in_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("keyword", sa.String(length=64), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("wa_id", name=op.f("pk_whatsapp_contacts")),
    )
    op.create_table(
        "whatsapp_media",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("media_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("mime_type", sa.String(length=255), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("stored_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_media")),
        sa.UniqueConstraint("message_id", "media_id", name=op.f("uq_whatsapp_media_message_id_media_id")),
    )
    with op.batch_alter_table("whatsapp_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_whatsapp_media_media_id"), ["media_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_whatsapp_media_status_next_attempt_at"), ["status", "next_attempt_at"], unique=False
        )

    op.create_table(
        "whatsapp_outbound",
        sa.Column("wamid", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("delivery_id", sa.Uuid(), nullable=True),
        sa.Column("recipient", sa.String(length=64), nullable=True),
        sa.Column("phone_number_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_rank", sa.SmallInteger(), nullable=False),
        sa.Column("accepted_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("read_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("played_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "errors",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column(
            "conversation",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column(
            "pricing",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("callback_data", sa.String(length=512), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("wamid", name=op.f("pk_whatsapp_outbound")),
    )
    with op.batch_alter_table("whatsapp_outbound", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_whatsapp_outbound_callback_data"), ["callback_data"], unique=False)
        batch_op.create_index(batch_op.f("ix_whatsapp_outbound_message_id"), ["message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("whatsapp_outbound", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_whatsapp_outbound_message_id"))
        batch_op.drop_index(batch_op.f("ix_whatsapp_outbound_callback_data"))

    op.drop_table("whatsapp_outbound")
    with op.batch_alter_table("whatsapp_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_whatsapp_media_status_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_whatsapp_media_media_id"))

    op.drop_table("whatsapp_media")
    op.drop_table("whatsapp_contacts")
