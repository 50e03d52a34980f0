"""Alerts: a reading that crosses a rule, or a device gone silent, becomes a message of kind ``alert``.

The same rule alerts at most once per subject within the quiet period. The period is kept in
the database (``device_alert_quiet``) and claimed by one conditional upsert, so it holds
across every process: of two uploads at the same moment only one gets the row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from core import Gateway, NotFound, Privacy, StandardMessage, uuid7
from plugins.devices.models import alert_quiet, alerts
from plugins.devices.rules import Rule
from plugins.devices.validation import Reading

SILENT = "device_silent"


def subject_key(subject: str | None, device_id: uuid.UUID) -> str:
    """Whom an alert is about: the reading's subject, or the device itself."""
    return subject or f"device:{device_id}"


def crossings(readings: Iterable[Reading], rules: Sequence[Rule], device_type: str) -> list[tuple[Reading, Rule]]:
    """Each (reading, rule) that alerts, at most one per rule and subject within the batch."""
    found: dict[tuple[str, str | None], tuple[Reading, Rule]] = {}
    by_metric: dict[str, list[Rule]] = {}
    for rule in rules:
        if rule.device_type in (None, device_type):
            by_metric.setdefault(rule.metric, []).append(rule)
    if not by_metric:
        return []
    for reading in readings:
        for rule in by_metric.get(reading.metric, ()):
            if rule.subject is not None and rule.subject != reading.subject:
                continue
            value = reading.diastolic if rule.field == "diastolic" else reading.value
            if value is not None and rule.crossed(value) and (rule.name, reading.subject) not in found:
                found[(rule.name, reading.subject)] = (reading, rule)
    return list(found.values())


async def claim_quiet_period(conn: AsyncConnection, rule: str, subject: str, now: datetime, quiet: int) -> bool:
    """True when this rule may alert for this subject now (and it is recorded that it did)."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(alert_quiet)
        .values(rule=rule, subject=subject, alerted_at=now)
        .on_conflict_do_update(
            index_elements=["rule", "subject"],
            set_={"alerted_at": now},
            where=alert_quiet.c.alerted_at <= now - timedelta(seconds=quiet),
        )
        .returning(alert_quiet.c.rule)
    )
    return (await conn.execute(statement)).first() is not None


def _reading_detail(reading: Reading) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "id": reading.reading_id,
        "metric": reading.metric,
        "unit": reading.unit,
        "measured_at": reading.measured_at.isoformat(),
    }
    if reading.diastolic is not None:
        return detail | {"systolic": reading.value, "diastolic": reading.diastolic}
    return detail | {
        "value": reading.value,
        "original_value": reading.original_value,
        "original_unit": reading.original_unit,
    }


async def raise_threshold_alerts(
    conn: AsyncConnection, device: Any, found: list[tuple[Reading, Rule]], now: datetime, quiet: int
) -> list[dict[str, Any]]:
    """Alert rows for the crossings whose quiet period has passed, inserted in ``conn``'s transaction."""
    rows = []
    for reading, rule in found:
        subject = subject_key(reading.subject, device.id)
        if not await claim_quiet_period(conn, rule.name, subject, now, quiet):
            continue
        rows.append(
            {
                "id": uuid7(),
                "kind": "threshold",
                "rule": rule.name,
                "severity": rule.severity,
                "device_id": device.id,
                "subject": reading.subject,
                "reading_id": reading.reading_id,
                "detail": {"rule": rule.describe(), "reading": _reading_detail(reading), "device": _device(device)},
                "created_at": now,
            }
        )
    if rows:
        await conn.execute(alerts.insert(), rows)
    return rows


def _device(device: Any) -> dict[str, Any]:
    return {"id": str(device.id), "serial": device.serial, "type": device.type, "facility": device.facility}


async def raise_silent_alerts(conn: AsyncConnection, silent: Sequence[Any], now: datetime) -> list[dict[str, Any]]:
    """One ``device_silent`` alert per device that has just gone silent."""
    rows = [
        {
            "id": uuid7(),
            "kind": SILENT,
            "rule": SILENT,
            "severity": "warning",
            "device_id": device.id,
            "subject": device.subject,
            "reading_id": None,
            "detail": {
                "device": _device(device),
                "last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
            },
            "created_at": now,
        }
        for device in silent
    ]
    if rows:
        await conn.execute(alerts.insert(), rows)
    return rows


async def alerts_of_readings(conn: AsyncConnection, device_id: uuid.UUID, reading_ids: list[str]) -> list[Any]:
    """Alerts raised by these readings before (a retried upload sends their messages again)."""
    if not reading_ids:
        return []
    query = sa.select(alerts).where(alerts.c.device_id == device_id, alerts.c.reading_id.in_(reading_ids))
    return list(await conn.execute(query))


def alert_message(row: Any) -> StandardMessage:
    """The standard message of an alert (kind ``alert``), routed like any other message."""
    values: dict[str, Any] = row if isinstance(row, dict) else dict(row._mapping)
    get = values.__getitem__
    detail: dict[str, Any] = get("detail")
    rule = detail.get("rule")
    reading = detail.get("reading")
    if rule and reading:
        shown = (
            f"{reading['systolic']:g}/{reading['diastolic']:g}" if "systolic" in reading else f"{reading['value']:g}"
        )
        text = f"{rule['name']}: {reading['metric']} {shown} {reading['unit']} {rule['comparison']} {rule['value']:g}"
    else:
        text = f"device {detail['device']['serial']} has gone silent"
    return StandardMessage(
        platform="devices",
        external_id=f"alert:{get('id')}",
        kind="alert",
        sender=get("subject"),
        conversation_key="",  # alerts are not a conversation
        text=text,
        timestamp=get("created_at"),
        # detail: the device, and the rule and reading (threshold) or the last time heard (silent)
        extra={
            **detail,
            "alert_id": str(get("id")),
            "alert": get("kind"),
            "severity": get("severity"),
            "subject": get("subject"),
        },
    )


class AlertFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: str | None = Field(default=None, pattern="^(open|acknowledged)$")
    device: uuid.UUID | None = None
    subject: str | None = None
    limit: int = Field(default=50, ge=1, le=500)
    cursor: uuid.UUID | None = None


def alert_view(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "kind": row.kind,
        "rule": row.rule,
        "severity": row.severity,
        "device_id": str(row.device_id),
        "subject": row.subject,
        "reading_id": row.reading_id,
        "detail": row.detail,
        "created_at": row.created_at.isoformat(),
        "acknowledged_at": row.acknowledged_at.isoformat() if row.acknowledged_at else None,
        "acknowledged_by": row.acknowledged_by,
    }


async def list_alerts(gateway: Gateway, f: AlertFilter) -> tuple[list[Any], str | None]:
    """A page of alerts, newest first, and the cursor of the next page."""
    query = alert_query(f, gateway.privacy).order_by(alerts.c.id.desc()).limit(f.limit + 1)
    if f.cursor is not None:
        query = query.where(alerts.c.id < f.cursor)
    async with gateway.db.transaction() as conn:
        rows = list(await conn.execute(query))
    if len(rows) > f.limit:
        return rows[: f.limit], str(rows[f.limit - 1].id)
    return rows, None


def alert_query(f: AlertFilter, privacy: Privacy) -> sa.Select[Any]:
    """The alerts matching ``f``'s state, device and subject (not ordered, not paged)."""
    query = sa.select(alerts)
    if f.state == "open":
        query = query.where(alerts.c.acknowledged_at.is_(None))
    elif f.state == "acknowledged":
        query = query.where(alerts.c.acknowledged_at.is_not(None))
    if f.device is not None:
        query = query.where(alerts.c.device_id == f.device)
    if f.subject is not None:
        query = query.where(privacy.match(alerts.c.subject, f.subject))
    return query


async def acknowledge(gateway: Gateway, alert_id: uuid.UUID, by: str, now: datetime) -> Any:
    """Acknowledge an alert (acknowledging it again keeps the first acknowledgement)."""
    async with gateway.db.transaction() as conn:
        await conn.execute(
            alerts.update()
            .where(alerts.c.id == alert_id, alerts.c.acknowledged_at.is_(None))
            .values(acknowledged_at=now, acknowledged_by=by)
        )
        row = (await conn.execute(sa.select(alerts).where(alerts.c.id == alert_id))).first()
    if row is None:
        raise NotFound("no such alert")
    return row
