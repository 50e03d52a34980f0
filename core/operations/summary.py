"""The figures an operator watches: volumes, outcomes and success rates, delivery times, the queue.

One service for the admin dashboard and ``GET /api/metrics/summary``. The window is the current
UTC hour and the hours before it (23 for ``24h``, 167 for ``7d``). Its closed hours come from the
hourly rollup (``core.operations.rollup``: a few rows per hour, written by the
``dashboard_rollup`` job); every hour not rolled up yet (the current one, those within the
rollup's margin, all of them on a fresh install or with the job stopped) is counted live from the
source tables over their time indexes, with the same definitions, so the figures are the same
either way, only slower without the rollup. What is counted is fixed once an hour is over:
messages received, deliveries created, attempt outcomes (delivered, retry, dead) by the hour
the attempt started. What waits is read now from the status index.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core.operations import rollup
from core.operations.rollup import HOUR, OUTCOMES, hour_floor
from core.pipeline.statuses import WAITING, DeliveryStatus
from core.storage.db import Database
from core.storage.ids import uuid7_floor
from core.storage.models import deliveries, messages, rollup_counts

WINDOWS: dict[str, tuple[timedelta, timedelta]] = {
    # name: (length, bucket of the volume chart), both whole hours
    "24h": (timedelta(hours=24), timedelta(hours=1)),
    "7d": (timedelta(days=7), timedelta(hours=6)),
}
# Delivery times are computed over at most this many recent deliveries of the window.
TIMING_SAMPLE = 5000
# Counted now, whatever the window: the deliveries waiting or being attempted.
NOW_STATUSES: tuple[DeliveryStatus, ...] = (*WAITING, DeliveryStatus.RUNNING)


def _floor(at: datetime) -> Any:
    return uuid7_floor(int(at.timestamp() * 1000))


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = max(0, math.ceil(fraction * len(sorted_values)) - 1)
    return sorted_values[index]


class _Tally:
    """The window's counts as they are gathered, from rolled-up hours and live ranges alike."""

    def __init__(self, since: datetime, step: timedelta, buckets: int) -> None:
        self.since, self.step = since, step
        self.volume: list[dict[str, Any]] = [
            {"at": (since + step * i).isoformat(), "messages": 0, "deliveries": 0} for i in range(buckets)
        ]
        self.by_direction: dict[str, int] = {}
        self.created: dict[str, int] = {}
        self.outcomes: dict[str, dict[str, int]] = {}

    def add(self, metric: str, name: str, count: int, bucket: int | None) -> None:
        if metric in ("in", "out"):
            self.by_direction[metric] = self.by_direction.get(metric, 0) + count
            _add(self.volume, bucket, "messages", count)
        elif metric == "created":
            self.created[name] = self.created.get(name, 0) + count
            _add(self.volume, bucket, "deliveries", count)
        elif metric in OUTCOMES:
            per = self.outcomes.setdefault(name, {})
            per[metric] = per.get(metric, 0) + count


async def summary(
    db: Database, window: str = "24h", *, now: datetime | None = None, use_rollup: bool = True
) -> dict[str, Any]:
    """Messages, deliveries and attempt outcomes of the ``window`` ("24h" or "7d"), the queue now, a volume series.

    Returns ``{"window", "since", "messages": {"total", "in", "out"}, "created", "attempts":
    {"delivered", "retry", "dead"}, "deliveries": {status: n}, "destinations": [{"destination",
    "created", "delivered", "retries", "dead", "success_rate"}], "delivery_time_ms": {"mean",
    "p95", "sample"}, "queue": {"depth", "oldest_pending_at"}, "volume": [{"at", "messages",
    "deliveries"}], "rollup": {"hours", "rolled"}}``. In ``deliveries``, ``delivered`` and ``dead``
    are attempt outcomes in the window, ``pending``, ``queued``, ``running`` and ``retrying`` how
    many are so now, ``cancelled`` the deliveries created in the window that are cancelled now.
    ``use_rollup=False`` counts every hour live (what the rollup must agree with).
    """
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}")
    length, step = WINDOWS[window]
    now = now or datetime.now(UTC)
    current = hour_floor(now)
    since = current + HOUR - length
    hours = [since + HOUR * i for i in range(int(length / HOUR))]
    tally = _Tally(since, step, math.ceil(length / step))
    async with db.transaction() as conn:
        rolled = await rollup.rolled_hours(conn, since, current + HOUR) if use_rollup else set()
        if rolled:
            # Summed per chart bucket by the database: a few hundred rows, no time to convert. Only
            # the hours read as rolled: one rolled up meanwhile is counted live, not twice.
            bucket = _bucket(conn, rollup_counts.c.hour, since, step).label("bucket")
            for index, metric, name, count in await conn.execute(
                sa.select(bucket, rollup_counts.c.metric, rollup_counts.c.name, sa.func.sum(rollup_counts.c.count))
                .where(rollup_counts.c.hour.in_(sorted(rolled)))
                .group_by(bucket, rollup_counts.c.metric, rollup_counts.c.name)
            ):
                tally.add(metric, name, int(count), index)
        ranges = rollup.live_ranges(hours, rolled)
        for i, (start, end) in enumerate(ranges):
            # The last range reaches now: rows stamped later (a clock ahead) still count.
            await _count_live(conn, tally, start, None if i == len(ranges) - 1 and end > current else end)
        by_status: dict[str, int] = {s.value: 0 for s in DeliveryStatus}
        # One statement, two ranges of the (status, …) indexes.
        for status, count in await conn.execute(
            sa.union_all(
                sa.select(deliveries.c.status, sa.func.count())
                .where(deliveries.c.status.in_(NOW_STATUSES))
                .group_by(deliveries.c.status),
                sa.select(deliveries.c.status, sa.func.count())
                .where(deliveries.c.status == DeliveryStatus.CANCELLED, deliveries.c.id >= _floor(since))
                .group_by(deliveries.c.status),
            )
        ):
            by_status[status] = int(count)
        timings = (
            await conn.scalars(
                sa.select(_duration_ms(conn))
                .where(deliveries.c.id >= _floor(since), deliveries.c.status == DeliveryStatus.DELIVERED)
                .order_by(deliveries.c.id.desc())
                .limit(TIMING_SAMPLE)
            )
        ).all()
        oldest = await _oldest_waiting(conn)
    attempts = {o: sum(per.get(o, 0) for per in tally.outcomes.values()) for o in OUTCOMES}
    by_status[DeliveryStatus.DELIVERED] = attempts["delivered"]
    by_status[DeliveryStatus.DEAD] = attempts["dead"]
    durations = sorted(max(0.0, float(ms)) for ms in timings if ms is not None)
    names = sorted(set(tally.created) | set(tally.outcomes))
    return {
        "window": window,
        "since": since.isoformat(),
        "messages": {
            "total": sum(tally.by_direction.values()),
            "in": tally.by_direction.get("in", 0),
            "out": tally.by_direction.get("out", 0),
        },
        "created": sum(tally.created.values()),
        "attempts": attempts,
        "deliveries": by_status,
        "destinations": [
            {
                "destination": name,
                "created": tally.created.get(name, 0),
                "delivered": (per := tally.outcomes.get(name, {})).get("delivered", 0),
                "retries": per.get("retry", 0),
                "dead": per.get("dead", 0),
                "success_rate": _rate(per),
            }
            for name in names
        ],
        "delivery_time_ms": {
            "mean": round(sum(durations) / len(durations), 1) if durations else None,
            "p95": round(p95, 1) if (p95 := _percentile(durations, 0.95)) is not None else None,
            "sample": len(durations),
        },
        "queue": {
            "depth": sum(by_status[s] for s in WAITING),
            "oldest_pending_at": _iso(oldest),
        },
        "volume": tally.volume,
        "rollup": {"hours": len(hours), "rolled": len(rolled)},
    }


async def _count_live(conn: Any, tally: _Tally, start: datetime, end: datetime | None) -> None:
    """Count ``[start, end)`` (no end: up to now) from the source tables, as the rollup would."""
    bucket = _bucket(conn, messages.c.received_at, tally.since, tally.step).label("bucket")
    query = sa.select(bucket, messages.c.direction, sa.func.count()).where(messages.c.received_at >= start)
    if end is not None:
        query = query.where(messages.c.received_at < end)
    for index, direction, count in await conn.execute(query.group_by(bucket, messages.c.direction)):
        tally.add(direction, "", int(count), index)
    bucket = _bucket(conn, deliveries.c.created_at, tally.since, tally.step).label("bucket")
    query = sa.select(bucket, deliveries.c.destination, sa.func.count()).where(deliveries.c.created_at >= start)
    if end is not None:
        query = query.where(deliveries.c.created_at < end)
    for index, destination, count in await conn.execute(query.group_by(bucket, deliveries.c.destination)):
        tally.add("created", destination, int(count), index)
    for outcome, destination, count in await rollup.outcome_counts(conn, start, end):
        tally.add(outcome, destination, count, None)


def _rate(counts: dict[str, int]) -> float | None:
    """Delivered among those finished (delivered or dead); ``None`` when none finished."""
    delivered, dead = counts.get("delivered", 0), counts.get("dead", 0)
    return round(delivered / (delivered + dead), 4) if delivered + dead else None


async def _oldest_waiting(conn: Any) -> datetime | None:
    """When the oldest waiting delivery was created.

    Per waiting status, the row of the smallest id (ids are time-ordered): one index seek
    each on ``(status, id)``, not a scan; the three in one statement.
    """
    firsts = [
        sa.select(deliveries.c.created_at)
        .where(deliveries.c.status == status)
        .order_by(deliveries.c.id)
        .limit(1)
        .subquery()
        for status in WAITING
    ]
    each = sa.union_all(*(sa.select(first.c.created_at) for first in firsts)).subquery()
    oldest: datetime | None = await conn.scalar(sa.select(sa.func.min(each.c.created_at)))
    return oldest


def _duration_ms(conn: Any) -> Any:
    """A delivery's time from creation to delivery in milliseconds, in SQL (no times to convert in Python)."""
    if conn.dialect.name == "postgresql":
        return sa.func.date_part("epoch", deliveries.c.delivered_at - deliveries.c.created_at) * 1000
    return (sa.func.julianday(deliveries.c.delivered_at) - sa.func.julianday(deliveries.c.created_at)) * 86_400_000


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


def _add(volume: list[dict[str, Any]], index: int | None, key: str, count: int) -> None:
    """Add ``count`` to bucket ``index`` of the chart (a row stamped in the future falls outside)."""
    if index is not None and 0 <= index < len(volume):
        volume[index][key] += int(count)
