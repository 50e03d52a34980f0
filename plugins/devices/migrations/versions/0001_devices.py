"""devices tables

Revision ID: 0001_devices
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from core import UTCDateTime

revision = "0001_devices"
down_revision = None
branch_labels = ("devices",)
depends_on = "0001_core"


def upgrade() -> None:
    op.create_table(
        "device_alert_quiet",
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("alerted_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rule", "subject", name=op.f("pk_device_alert_quiet")),
    )
    op.create_table(
        "device_alert_rules",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("comparison", sa.String(length=2), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=True),
        sa.Column("device_type", sa.String(length=32), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_device_alert_rules")),
    )
    op.create_table(
        "device_alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=True),
        sa.Column("reading_id", sa.String(length=128), nullable=True),
        sa.Column(
            "detail",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_alerts")),
    )
    with op.batch_alter_table("device_alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_alerts_acknowledged_at_id"), ["acknowledged_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_device_alerts_device_id_reading_id"), ["device_id", "reading_id"], unique=False
        )

    op.create_table(
        "device_keys",
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_device_keys")),
    )
    with op.batch_alter_table("device_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_keys_device_id"), ["device_id"], unique=False)

    op.create_table(
        "device_readings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("reading_id", sa.String(length=128), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=True),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("diastolic", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("original_value", sa.Float(), nullable=True),
        sa.Column("original_unit", sa.String(length=16), nullable=False),
        sa.Column("measured_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_readings")),
        sa.UniqueConstraint("device_id", "reading_id", name=op.f("uq_device_readings_device_id_reading_id")),
    )
    with op.batch_alter_table("device_readings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_readings_device_id_id"), ["device_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_device_readings_subject_metric_measured_at"),
            ["subject", "metric", "measured_at"],
            unique=False,
        )

    op.create_table(
        "devices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("serial", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("facility", sa.String(length=128), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("last_seen_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_reading_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("firmware", sa.String(length=64), nullable=True),
        sa.Column("battery", sa.Float(), nullable=True),
        sa.Column("signal", sa.Float(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("serial", name=op.f("uq_devices_serial")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_facility_id"), ["facility", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_devices_status_last_seen_at"), ["status", "last_seen_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_devices_type_id"), ["type", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_type_id"))
        batch_op.drop_index(batch_op.f("ix_devices_status_last_seen_at"))
        batch_op.drop_index(batch_op.f("ix_devices_facility_id"))

    op.drop_table("devices")
    with op.batch_alter_table("device_readings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_readings_subject_metric_measured_at"))
        batch_op.drop_index(batch_op.f("ix_device_readings_device_id_id"))

    op.drop_table("device_readings")
    with op.batch_alter_table("device_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_keys_device_id"))

    op.drop_table("device_keys")
    with op.batch_alter_table("device_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_alerts_device_id_reading_id"))
        batch_op.drop_index(batch_op.f("ix_device_alerts_acknowledged_at_id"))

    op.drop_table("device_alerts")
    op.drop_table("device_alert_rules")
    op.drop_table("device_alert_quiet")
