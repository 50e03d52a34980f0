"""Storing an upload: its new readings, the device's status and the alerts they raise, in one transaction.

The readings table is written first and is idempotent (unique on device and reading id), and
so is the core's message store (unique on platform and external id). The messages of every
valid reading are handed to the core, not only of the new ones: if a request failed after
the readings were stored, the device's retry still gets its messages stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from core import Gateway, StandardMessage, seal_row, storable
from plugins.devices.alerts import alert_message, alerts_of_readings, crossings, raise_threshold_alerts
from plugins.devices.models import devices, readings
from plugins.devices.registry import heard_from
from plugins.devices.rules import effective_rules
from plugins.devices.settings import DevicesSettings
from plugins.devices.validation import Reading, Rejected, check_reading

# The columns of each reading; device_id and received_at are the upload's, given once.
_COLUMNS = (
    ("reading_id", "text"),
    ("subject", "text"),
    ("metric", "text"),
    ("value", "float8"),
    ("diastolic", "float8"),
    ("unit", "text"),
    ("original_value", "float8"),
    ("original_unit", "text"),
    ("measured_at", "timestamptz"),
)
_NAMES = ", ".join(name for name, _ in _COLUMNS)
# One statement and one parameter for the whole batch on PostgreSQL. It answers one row: how
# many readings were inserted and, only when some were not (a retry), which ones.
# Built from the constants above, never from input.
_PG_INSERT = (
    f"WITH ins AS (INSERT INTO device_readings (device_id, received_at, {_NAMES}) "  # noqa: S608
    f"SELECT $2::uuid, $3::timestamptz, {_NAMES} "
    f"FROM json_to_recordset($1::json) AS r({', '.join(f'{n} {t}' for n, t in _COLUMNS)}) "
    "ON CONFLICT (device_id, reading_id) DO NOTHING RETURNING reading_id) "
    "SELECT count(*), CASE WHEN count(*) < $4 THEN array_agg(reading_id) END FROM ins"
)
_SQLITE_CHUNK = 500  # rows per statement: SQLite allows 32,766 variables


@dataclass
class Upload:
    """The outcome of one upload: the answer's counts and the messages for the core to store."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    messages: list[StandardMessage] = field(default_factory=list)

    def answer(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [r.to_dict() for r in self.rejected],
        }


def _row(r: Reading) -> dict[str, Any]:
    return {
        "reading_id": r.reading_id,
        "subject": r.subject,
        "metric": r.metric,
        "value": r.value,
        "diastolic": r.diastolic,
        "unit": r.unit,
        "original_value": r.original_value,
        "original_unit": r.original_unit,
        "measured_at": r.measured_at,
    }


async def insert_readings(
    conn: AsyncConnection, device_id: uuid.UUID, received_at: datetime, rows: list[dict[str, Any]]
) -> set[str]:
    """Insert the rows (``_row``) not stored yet; returns the reading ids inserted, as stored
    (``core.storable``: a NUL or lone surrogate in an id is stored as U+FFFD)."""
    if not rows:
        return set()
    if conn.dialect.name == "postgresql":
        # JSON text built here, not by SQLAlchemy, so made storable here: one NUL in one
        # reading's id would fail the whole batch (SQLAlchemy does it on SQLite's path below).
        rows = storable(rows)
        # The statement bypasses the columns' types: the subject is sealed here, as they would.
        text = orjson.dumps([seal_row(readings, row, conn.dialect) for row in rows]).decode()
        result = await conn.exec_driver_sql(_PG_INSERT, (text, device_id, received_at, len(rows)))
        count, some = tuple(result.one())
        return {row["reading_id"] for row in rows} if count == len(rows) else set(some or ())
    inserted: set[str] = set()
    for row in rows:
        row["device_id"], row["received_at"] = device_id, received_at
    for start in range(0, len(rows), _SQLITE_CHUNK):
        statement = (
            sa.dialects.sqlite.insert(readings)
            .values(rows[start : start + _SQLITE_CHUNK])
            .on_conflict_do_nothing(index_elements=["device_id", "reading_id"])
            .returning(readings.c.reading_id)
        )
        inserted.update(await conn.scalars(statement))
    return inserted


def reading_messages(device: Any, valid: Iterable[Reading]) -> list[StandardMessage]:
    """The standard message of each reading: canonical values in ``extra``, the device's item in ``raw``."""
    device_id, prefix = str(device.id), f"{device.id.hex}:"
    serial, device_type, facility = device.serial, device.type, device.facility
    out = []
    for r in valid:
        extra: dict[str, Any] = {
            "device_id": device_id,
            "serial": serial,
            "device_type": device_type,
            "facility": facility,
            "subject": r.subject,
            "reading_id": r.reading_id,
            "metric": r.metric,
            "unit": r.unit,
            "measured_at": r.measured_at.isoformat(),
        }
        if r.diastolic is not None:
            extra["systolic"] = r.value
            extra["diastolic"] = r.diastolic
        else:
            extra["value"] = r.value
            extra["original_value"] = r.original_value
            extra["original_unit"] = r.original_unit
        out.append(
            StandardMessage(
                platform="devices",
                external_id=prefix + r.reading_id,
                kind="reading",
                sender=r.subject,
                conversation_key="",  # readings are not a conversation
                timestamp=r.measured_at,
                raw=r.raw,
                extra=extra,
            )
        )
    return out


async def store_upload(gateway: Gateway, settings: DevicesSettings, device: Any, items: list[Any]) -> Upload:
    """Check every item, store the new readings, update the device, raise alerts; all or nothing."""
    now = datetime.now(UTC)
    upload = Upload()
    valid: dict[str, Reading] = {}
    for index, item in enumerate(items):
        checked = check_reading(
            index,
            item,
            now=now,
            max_future_skew=settings.max_future_skew,
            ranges=settings.ranges,
            default_subject=device.subject,
        )
        if isinstance(checked, Rejected):
            upload.rejected.append(checked)
        elif checked.reading_id in valid:
            upload.duplicates += 1  # the same reading twice in one batch
        else:
            valid[checked.reading_id] = checked
    async with gateway.db.transaction() as conn:
        inserted = await insert_readings(conn, device.id, now, [_row(r) for r in valid.values()])
        new = [r for r in valid.values() if storable(r.reading_id) in inserted]
        status: dict[str, Any] = {}
        if new:
            latest = max(r.measured_at for r in new)
            status["last_reading_at"] = sa.case(
                (
                    sa.or_(devices.c.last_reading_at.is_(None), devices.c.last_reading_at < latest),
                    sa.literal(latest, devices.c.last_reading_at.type),
                ),
                else_=devices.c.last_reading_at,
            )
        await heard_from(conn, device.id, now, **status)
        raised = await raise_threshold_alerts(
            conn,
            device,
            crossings(new, await effective_rules(conn, settings.rules), device.type),
            now,
            settings.alert_quiet_period,
        )
        repeated = [r.reading_id for r in valid.values() if r.reading_id not in inserted]
        earlier = await alerts_of_readings(conn, device.id, repeated)
    upload.accepted = len(new)
    upload.duplicates += len(valid) - len(new)
    upload.messages = reading_messages(device, valid.values())
    upload.messages += [alert_message(row) for row in [*raised, *earlier]]
    return upload
