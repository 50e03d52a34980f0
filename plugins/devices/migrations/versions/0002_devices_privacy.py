"""devices: room for participant identifiers sealed with a [privacy] key

Revision ID: 0002_devices_privacy
Revises: 0001_devices
Create Date: 2026-12-06

With ``[privacy] key`` set, identifiers are stored sealed (AES-SIV: about 1.4 times their length
plus 15 characters; docs/privacy.md): their columns widen to 512 characters. SQLite does not
hold a column to its declared length: nothing to do there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_devices_privacy"
down_revision = "0001_devices"
branch_labels = None
depends_on = None

_WIDENED = (
    ("devices", "subject", 128),
    ("device_readings", "subject", 128),
    ("device_alert_rules", "subject", 128),
    ("device_alerts", "subject", 128),
    ("device_alert_quiet", "subject", 128),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column, length in _WIDENED:
            op.alter_column(table, column, type_=sa.String(512), existing_type=sa.String(length))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column, length in _WIDENED:
            op.alter_column(table, column, type_=sa.String(length), existing_type=sa.String(512))
