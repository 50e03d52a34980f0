"""The figures an operator watches: volumes by status, success rates, delivery times, the queue.

One service for the admin dashboard and ``GET /api/metrics/summary``. Every count is a range
on a time index that also holds what is counted (``messages (received_at, direction)``,
``deliveries (created_at, status, destination)``, revision ``0005_console_indexes``), so the
database reads the index alone, never the rows; the volume chart is one grouped pass per
table groups by (bucket, …) at once, the bucket number computed from the time, so the same pass
gives the window's counts and the chart.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core.pipeline.statuses import WAITING, DeliveryStatus
from core.storage.db import Database
from core.storage.ids import uuid7_floor
from core.storage.models import deliveries, messages

WINDOWS: dict[str, tuple[timedelta, timedelta]] = {
    # name: (length, bucket of the volume chart)
    "24h": (timedelta(hours=24), timedelta(hours=1)),
    "7d": (timedelta(days=7), timedelta(hours=6)),
}
# Delivery times are computed over at most this many recent deliveries of the window.
TIMING_SAMPLE = 5000
# A failure streak is counted up to this many deliveries (enough to say "it is down").
STREAK_CAP = 1000


def _floor(at: datetime) -> Any:
    return uuid7_floor(int(at.timestamp() * 1000))


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = max(0, math.ceil(fraction * len(sorted_values)) - 1)
    return sorted_values[index]


async def summary(db: Database, window: str = "24h", *, now: datetime | None = None) -> dict[str, Any]:
    """Messages and deliveries of the last ``window`` ("24h" or "7d"), the queue, and a volume series.

    Returns ``{"window", "since", "messages": {"total", "in", "out"}, "deliveries": {status: n},
    "destinations": [{"destination", "delivered", "dead", "success_rate"}], "delivery_time_ms":
    {"mean", "p95", "sample"}, "queue": {"depth", "oldest_pending_at"}, "volume": [{"at",
    "messages", "deliveries"}]}``.
    """
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}")
    length, step = WINDOWS[window]
    now = now or datetime.now(UTC)
    since = now - length
    start = _floor(since)
    buckets = [since + step * i for i in range(math.ceil(length / step))]
    volume: list[dict[str, Any]] = [{"at": b.isoformat(), "messages": 0, "deliveries": 0} for b in buckets]
    by_direction: dict[str, int] = {}
    by_status: dict[str, int] = {s.value: 0 for s in DeliveryStatus}
    per_destination: dict[str, dict[str, int]] = {}
    async with db.transaction() as conn:
        # One pass over each table's time index gives both the window's counts and the chart.
        bucket = _bucket(conn, messages.c.received_at, since, step).label("bucket")
        for index, direction, count in await conn.execute(
            sa.select(bucket, messages.c.direction, sa.func.count())
            .where(messages.c.received_at >= since)
            .group_by(bucket, messages.c.direction)
        ):
            by_direction[direction] = by_direction.get(direction, 0) + count
            _add(volume, index, "messages", count)
        bucket = _bucket(conn, deliveries.c.created_at, since, step).label("bucket")
        for index, destination, status, count in await conn.execute(
            sa.select(bucket, deliveries.c.destination, deliveries.c.status, sa.func.count())
            .where(deliveries.c.created_at >= since)
            .group_by(bucket, deliveries.c.destination, deliveries.c.status)
        ):
            by_status[status] = by_status.get(status, 0) + count
            counts = per_destination.setdefault(destination, {})
            counts[status] = counts.get(status, 0) + count
            _add(volume, index, "deliveries", count)
        timings = (
            await conn.execute(
                sa.select(deliveries.c.created_at, deliveries.c.delivered_at)
                .where(deliveries.c.id >= start, deliveries.c.status == DeliveryStatus.DELIVERED)
                .order_by(deliveries.c.id.desc())
                .limit(TIMING_SAMPLE)
            )
        ).all()
        depth, oldest = await _queue(conn)
    durations = sorted(
        max(0.0, (done - created).total_seconds() * 1000) for created, done in timings if done is not None
    )
    return {
        "window": window,
        "since": since.isoformat(),
        "messages": {
            "total": sum(by_direction.values()),
            "in": by_direction.get("in", 0),
            "out": by_direction.get("out", 0),
        },
        "deliveries": by_status,
        "destinations": [
            {
                "destination": name,
                "delivered": counts.get(DeliveryStatus.DELIVERED, 0),
                "dead": counts.get(DeliveryStatus.DEAD, 0),
                "success_rate": _rate(counts),
            }
            for name, counts in sorted(per_destination.items())
        ],
        "delivery_time_ms": {
            "mean": round(sum(durations) / len(durations), 1) if durations else None,
            "p95": round(p95, 1) if (p95 := _percentile(durations, 0.95)) is not None else None,
            "sample": len(durations),
        },
        "queue": {"depth": int(depth), "oldest_pending_at": _iso(oldest)},
        "volume": volume,
    }


def _rate(counts: dict[str, int]) -> float | None:
    """Delivered among those finished (delivered or dead); ``None`` when none finished."""
    delivered, dead = counts.get(DeliveryStatus.DELIVERED, 0), counts.get(DeliveryStatus.DEAD, 0)
    return round(delivered / (delivered + dead), 4) if delivered + dead else None


async def _queue(conn: Any) -> tuple[int, datetime | None]:
    """How many deliveries wait, and when the oldest was created.

    The count reads the ``(status, id)`` index only; the oldest is, per waiting status, the
    row of the smallest id (ids are time-ordered), one index seek each, not a scan.
    """
    depth = (await conn.execute(sa.select(sa.func.count()).where(deliveries.c.status.in_(WAITING)))).scalar_one()
    oldest: datetime | None = None
    for status in WAITING:
        at = (
            await conn.execute(
                sa.select(deliveries.c.created_at)
                .where(deliveries.c.status == status)
                .order_by(deliveries.c.id)
                .limit(1)
            )
        ).scalar()
        if at is not None and (oldest is None or at < oldest):
            oldest = at
    return int(depth), oldest


def _bucket(conn: Any, column: Any, since: datetime, step: timedelta) -> Any:
    """The index of the chart bucket of ``column`` (0 for the one starting at ``since``), in SQL."""
    seconds = step.total_seconds()
    if conn.dialect.name == "postgresql":
        # date_part is double precision; extract() is numeric since PostgreSQL 14, several times slower.
        offset = sa.func.date_part("epoch", column) - since.timestamp()
        return sa.cast(sa.func.floor(offset / seconds), sa.Integer)
    # SQLite keeps UTC text; julianday() reads it as days since the Julian epoch.
    offset = (sa.func.julianday(column) - (since.timestamp() / 86400 + 2440587.5)) * 86400
    return sa.cast(offset / seconds, sa.Integer)


def _add(volume: list[dict[str, Any]], index: int, key: str, count: int) -> None:
    """Add ``count`` to bucket ``index`` of the chart (a row stamped in the future falls outside)."""
    if 0 <= index < len(volume):
        volume[index][key] += int(count)


async def destination_health(db: Database, names: list[str]) -> dict[str, dict[str, Any]]:
    """For each destination: its last success, last failure, and how many deliveries failed since.

    ``failure_streak`` counts dead and retrying deliveries newer than the last delivered one
    (capped at ``STREAK_CAP``).
    """
    failing = (DeliveryStatus.DEAD, DeliveryStatus.RETRYING)
    out: dict[str, dict[str, Any]] = {}
    async with db.transaction() as conn:
        for name in names:
            last_ok = (
                await conn.execute(
                    sa.select(deliveries.c.id, deliveries.c.delivered_at)
                    .where(deliveries.c.destination == name, deliveries.c.status == DeliveryStatus.DELIVERED)
                    .order_by(deliveries.c.id.desc())
                    .limit(1)
                )
            ).first()
            last_bad = (
                await conn.execute(
                    sa.select(deliveries.c.updated_at, deliveries.c.last_error)
                    .where(deliveries.c.destination == name, deliveries.c.status.in_(failing))
                    .order_by(deliveries.c.id.desc())
                    .limit(1)
                )
            ).first()
            newer = sa.select(deliveries.c.id).where(deliveries.c.destination == name, deliveries.c.status.in_(failing))
            if last_ok is not None:
                newer = newer.where(deliveries.c.id > last_ok.id)
            streak = (
                await conn.execute(sa.select(sa.func.count()).select_from(newer.limit(STREAK_CAP).subquery()))
            ).scalar_one()
            out[name] = {
                "last_success_at": _iso(last_ok.delivered_at) if last_ok is not None else None,
                "last_failure_at": _iso(last_bad.updated_at) if last_bad is not None else None,
                "last_error": last_bad.last_error if last_bad is not None else None,
                "failure_streak": int(streak),
            }
    return out
