"""The figures an operator watches: volumes by status, success rates, delivery times, the queue.

One service for the admin dashboard and ``GET /api/metrics/summary``. Every time window is a
window on the time-ordered primary key (``uuid7_floor``), so the counts read a key range,
and the volume chart is one pass with a filtered count per bucket (both dialects have
``count(*) FILTER (WHERE …)``).
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
    async with db.transaction() as conn:
        by_direction: dict[str, int] = dict(
            (
                await conn.execute(
                    sa.select(messages.c.direction, sa.func.count())
                    .where(messages.c.id >= start)
                    .group_by(messages.c.direction)
                )
            ).all()
        )
        rows = await conn.execute(
            sa.select(deliveries.c.destination, deliveries.c.status, sa.func.count())
            .where(deliveries.c.id >= start)
            .group_by(deliveries.c.destination, deliveries.c.status)
        )
        by_status: dict[str, int] = {s.value: 0 for s in DeliveryStatus}
        per_destination: dict[str, dict[str, int]] = {}
        for destination, status, count in rows:
            by_status[status] = by_status.get(status, 0) + count
            per_destination.setdefault(destination, {})[status] = count
        timings = (
            await conn.execute(
                sa.select(deliveries.c.created_at, deliveries.c.delivered_at)
                .where(deliveries.c.id >= start, deliveries.c.status == DeliveryStatus.DELIVERED)
                .order_by(deliveries.c.id.desc())
                .limit(TIMING_SAMPLE)
            )
        ).all()
        depth, oldest = (
            await conn.execute(
                sa.select(sa.func.count(), sa.func.min(deliveries.c.created_at)).where(
                    deliveries.c.status.in_(WAITING)
                )
            )
        ).one()
        volume = await _volume(conn, buckets, step)
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


async def _volume(conn: Any, buckets: list[datetime], step: timedelta) -> list[dict[str, Any]]:
    """Messages and deliveries created per bucket: one pass over each table's key range."""
    out: list[dict[str, Any]] = [{"at": b.isoformat(), "messages": 0, "deliveries": 0} for b in buckets]
    for table, key in ((messages, "messages"), (deliveries, "deliveries")):
        counts = [
            sa.func.count().filter(sa.and_(table.c.id >= _floor(b), table.c.id < _floor(b + step))).label(f"b{i}")
            for i, b in enumerate(buckets)
        ]
        row = (await conn.execute(sa.select(*counts).where(table.c.id >= _floor(buckets[0])))).one()
        for i, value in enumerate(row):
            out[i][key] = int(value or 0)
    return out


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
