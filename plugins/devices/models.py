"""The plugin's tables: devices and their keys, readings, alert rules, alerts and quiet periods.

Core rows (API keys, messages) are referred to by id without a foreign key: plugins do not
reference core tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from core import NAMING, ParticipantRef, SealedJSON, UTCDateTime

metadata = sa.MetaData(naming_convention=NAMING)

JSONType = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
Uuid = sa.Uuid(as_uuid=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("serial", sa.String(128), nullable=False, unique=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("model", sa.String(128)),
    sa.Column("facility", sa.String(128), nullable=False),
    sa.Column("subject", ParticipantRef()),
    sa.Column("metadata", JSONType),
    # active | silent | inactive (deactivated: its keys are revoked)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("key_id", Uuid),  # the current core API key
    sa.Column("last_seen_at", UTCDateTime),
    sa.Column("last_reading_at", UTCDateTime),
    sa.Column("firmware", sa.String(64)),
    sa.Column("battery", sa.Float),
    sa.Column("signal", sa.Float),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index(None, "type", "id"),
    sa.Index(None, "facility", "id"),
    sa.Index(None, "status", "last_seen_at"),
)

# Every core API key a device was given (a rotated key keeps working for its grace period).
device_keys = sa.Table(
    "device_keys",
    metadata,
    sa.Column("key_id", Uuid, primary_key=True),
    sa.Column("device_id", Uuid, nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

readings = sa.Table(
    "device_readings",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("device_id", Uuid, nullable=False),
    sa.Column("reading_id", sa.String(128), nullable=False),  # the device's own id
    sa.Column("subject", ParticipantRef()),
    sa.Column("metric", sa.String(32), nullable=False),
    sa.Column("value", sa.Float, nullable=False),  # canonical unit; blood pressure: systolic
    sa.Column("diastolic", sa.Float),
    sa.Column("unit", sa.String(16), nullable=False),  # canonical
    sa.Column("original_value", sa.Float),
    sa.Column("original_unit", sa.String(16), nullable=False),
    sa.Column("measured_at", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("device_id", "reading_id"),
    sa.Index(None, "subject", "metric", "measured_at"),
    sa.Index(None, "device_id", "id"),
)

rules = sa.Table(
    "device_alert_rules",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("metric", sa.String(32), nullable=False),
    sa.Column("field", sa.String(16), nullable=False),
    sa.Column("comparison", sa.String(2), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("subject", ParticipantRef()),
    sa.Column("device_type", sa.String(32)),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # api (a stored rule; config rules are not stored)
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

alerts = sa.Table(
    "device_alerts",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # threshold | device_silent
    sa.Column("rule", sa.String(64), nullable=False),  # the rule's name, or "device_silent"
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("device_id", Uuid, nullable=False),
    sa.Column("subject", ParticipantRef()),
    sa.Column("reading_id", sa.String(128)),
    sa.Column("detail", SealedJSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("acknowledged_at", UTCDateTime),
    sa.Column("acknowledged_by", sa.String(128)),
    sa.Index(None, "device_id", "reading_id"),
    sa.Index(None, "acknowledged_at", "id"),
)

# When each rule last alerted for each subject: the quiet period, shared by every process.
alert_quiet = sa.Table(
    "device_alert_quiet",
    metadata,
    sa.Column("rule", sa.String(64), primary_key=True),
    sa.Column("subject", ParticipantRef(), primary_key=True),
    sa.Column("alerted_at", UTCDateTime, nullable=False),
)
