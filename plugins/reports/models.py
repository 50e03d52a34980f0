"""The plugin's table: one row per report asked for, its state and where its file is."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from core import NAMING, UTCDateTime

metadata = sa.MetaData(naming_convention=NAMING)

JSONType = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
Uuid = sa.Uuid(as_uuid=True)

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", Uuid, primary_key=True),  # uuid7: pages by id are pages by time
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("format", sa.String(8), nullable=False),
    sa.Column("params", JSONType, nullable=False),
    # Who asked: "user:<id>" or "api_key:<id>"; a report is seen by its owner and by admins.
    sa.Column("owner", sa.String(128), nullable=False),
    sa.Column("owner_label", sa.String(255), nullable=False),
    # pending | running | completed | failed
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("completed_at", UTCDateTime),
    sa.Column("failed_at", UTCDateTime),
    sa.Column("error", sa.Text),
    sa.Column("row_count", sa.BigInteger),
    sa.Column("size_bytes", sa.BigInteger),
    sa.Column("storage_key", sa.String(255)),
    sa.Index(None, "owner", "id"),
    sa.Index(None, "status", "created_at"),
    sa.Index(None, "created_at"),
)

# Schedules added through the API (those of the config file live there only).
report_schedules = sa.Table(
    "report_schedules",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("definition", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# One row per schedule tick: inserting it claims the tick (the primary key makes a second
# claim fail), so a tick runs once however many workers or gateways tick at the same moment.
report_schedule_runs = sa.Table(
    "report_schedule_runs",
    metadata,
    sa.Column("schedule", sa.String(64), primary_key=True),
    sa.Column("tick_at", UTCDateTime, primary_key=True),
    sa.Column("report_id", Uuid, index=True),
    # waiting (for its report) | sending | delivered | failed
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("claimed_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime),
    sa.Column("error", sa.Text),
    # Who asked for it with "run now" (a user's or key's label); null for a scheduled tick.
    sa.Column("requested_by", sa.String(255)),
)

# A schedule an admin switched off (or on again), config file's and API's alike: the config
# file stays read-only, this row overrides it. No row: enabled.
report_schedule_states = sa.Table(
    "report_schedule_states",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(255)),
)
