"""Stored readings for people: filtered pages and a subject's summary per metric."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core import Gateway, Privacy
from plugins.devices.models import readings
from plugins.devices.requests import aware
from plugins.devices.units import METRICS

PERIODS = {"day": timedelta(days=1), "week": timedelta(weeks=1), "month": timedelta(days=30)}


class ReadingFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: uuid.UUID | None = None
    subject: str | None = None
    metric: str | None = None
    since: datetime | None = None  # measured_at ≥ since
    until: datetime | None = None  # measured_at < until
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: int | None = None

    _aware = field_validator("since", "until")(aware)

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str | None) -> str | None:
        if value is not None and value not in METRICS:
            raise ValueError(f"unknown metric (known: {', '.join(METRICS)})")
        return value


class SummaryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: Literal["day", "week", "month"] = "week"


def reading_view(row: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": row.id,
        "device_id": str(row.device_id),
        "reading_id": row.reading_id,
        "subject": row.subject,
        "metric": row.metric,
        "unit": row.unit,
        "measured_at": row.measured_at.isoformat(),
        "received_at": row.received_at.isoformat(),
    }
    if row.diastolic is not None:
        return view | {"systolic": row.value, "diastolic": row.diastolic}
    return view | {"value": row.value, "original_value": row.original_value, "original_unit": row.original_unit}


async def list_readings(gateway: Gateway, f: ReadingFilter) -> tuple[list[Any], str | None]:
    """A page of readings, newest stored first, and the cursor of the next page."""
    query = reading_query(f, gateway.privacy).order_by(readings.c.id.desc()).limit(f.limit + 1)
    if f.cursor is not None:
        query = query.where(readings.c.id < f.cursor)
    async with gateway.db.transaction() as conn:
        rows = list(await conn.execute(query))
    if len(rows) > f.limit:
        return rows[: f.limit], str(rows[f.limit - 1].id)
    return rows, None


def reading_query(f: ReadingFilter, privacy: Privacy) -> sa.Select[Any]:
    """The readings matching ``f``'s device, subject, metric and times (not ordered, not paged)."""
    query = sa.select(readings)
    for column, value in ((readings.c.device_id, f.device), (readings.c.metric, f.metric)):
        if value is not None:
            query = query.where(column == value)
    if f.subject is not None:
        query = query.where(privacy.match(readings.c.subject, f.subject))
    if f.since is not None:
        query = query.where(readings.c.measured_at >= f.since)
    if f.until is not None:
        query = query.where(readings.c.measured_at < f.until)
    return query


async def subject_summary(gateway: Gateway, subject: str, period: str) -> dict[str, Any]:
    """Count, min, max, mean and the last value of each metric of ``subject`` over the period."""
    since = datetime.now(UTC) - PERIODS[period]
    mine = sa.and_(gateway.privacy.match(readings.c.subject, subject), readings.c.measured_at >= since)
    stats = (
        sa.select(
            readings.c.metric,
            sa.func.count(),
            sa.func.min(readings.c.value),
            sa.func.max(readings.c.value),
            sa.func.avg(readings.c.value),
            sa.func.min(readings.c.diastolic),
            sa.func.max(readings.c.diastolic),
            sa.func.avg(readings.c.diastolic),
        )
        .where(mine)
        .group_by(readings.c.metric)
    )
    metrics: dict[str, Any] = {}
    async with gateway.db.transaction() as conn:
        for metric, count, low, high, mean, d_low, d_high, d_mean in await conn.execute(stats):
            last = (
                await conn.execute(
                    sa.select(readings)
                    .where(mine, readings.c.metric == metric)
                    .order_by(readings.c.measured_at.desc(), readings.c.id.desc())
                    .limit(1)
                )
            ).one()
            entry: dict[str, Any] = {
                "count": count,
                "unit": last.unit,
                "last_measured_at": last.measured_at.isoformat(),
            }
            if d_mean is not None:
                entry |= {
                    "systolic": {"min": low, "max": high, "mean": round(float(mean), 2), "last": last.value},
                    "diastolic": {"min": d_low, "max": d_high, "mean": round(float(d_mean), 2), "last": last.diastolic},
                }
            else:
                entry |= {"min": low, "max": high, "mean": round(float(mean), 3), "last": last.value}
            metrics[metric] = entry
    return {"subject": subject, "period": period, "since": since.isoformat(), "metrics": metrics}
