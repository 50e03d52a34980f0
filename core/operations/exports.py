"""Read-only streams over the gateway's records in a period, for reports and exports.

Each stream is an async generator that reads its table in keyset chunks (``chunk`` rows per
query, each in its own short transaction), so a million rows never sit in memory and no
transaction stays open while the consumer writes a file. Periods are half-open,
``[start, end)``, in aware datetimes. Messages and deliveries are ranged on their ids
(UUIDv7: the time they were stored), which reads the primary key; the audit log on ``at``.
Aggregates (volume per day, outcomes per destination) are computed by the database.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from core.operations.records import LOG_FIELDS
from core.storage.db import Database
from core.storage.ids import uuid7_floor
from core.storage.models import audit_log, deliveries, delivery_attempts, messages

CHUNK = 5000


def _id_bounds(start: datetime, end: datetime) -> tuple[uuid.UUID, uuid.UUID]:
    return uuid7_floor(int(start.timestamp() * 1000)), uuid7_floor(int(end.timestamp() * 1000))


def _day(db: Database, column: Any) -> Any:
    """The UTC calendar day of a timestamp column, as text ``YYYY-MM-DD`` on both databases."""
    if db.dialect == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD")
    return sa.func.date(column)


def _seconds_between(db: Database, later: Any, earlier: Any) -> Any:
    if db.dialect == "postgresql":
        return sa.func.extract("epoch", later - earlier)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0


async def _keyset(
    db: Database, query: sa.Select[Any], key: Any, first: Any, chunk: int
) -> AsyncIterator[dict[str, Any]]:
    """Rows of ``query`` in ascending ``key`` order from ``first`` (exclusive), ``chunk`` at a time."""
    last = first
    while True:
        async with db.transaction() as conn:
            rows = (await conn.execute(query.where(key > last).order_by(key).limit(chunk))).mappings().all()
        for row in rows:
            yield dict(row)
        if len(rows) < chunk:
            return
        last = rows[-1][key.key]


async def message_volume(db: Database, start: datetime, end: datetime) -> AsyncIterator[dict[str, Any]]:
    """Messages per UTC day, platform, kind and direction: ``day``, ``platform``, ``kind``, ``direction``, ``count``."""
    low, high = _id_bounds(start, end)
    day = _day(db, messages.c.received_at).label("day")
    query = (
        sa.select(day, messages.c.platform, messages.c.kind, messages.c.direction, sa.func.count().label("count"))
        .where(messages.c.id >= low, messages.c.id < high)
        .group_by(day, messages.c.platform, messages.c.kind, messages.c.direction)
        .order_by(day, messages.c.platform, messages.c.kind, messages.c.direction)
    )
    async with db.transaction() as conn:
        rows = (await conn.execute(query)).mappings().all()
    for row in rows:
        yield dict(row)


async def delivery_outcomes(db: Database, start: datetime, end: datetime) -> AsyncIterator[dict[str, Any]]:
    """Per destination, of the deliveries created in the period: how many are in each status,
    and the mean and 95th percentile seconds from creation to delivery of the delivered ones.

    Yields ``destination``, ``statuses`` (status → count), ``delivered_mean_seconds`` and
    ``delivered_p95_seconds`` (None without a delivered one). The percentile is the nearest
    rank, read with one ordered query per destination, not by loading the durations.
    """
    low, high = _id_bounds(start, end)
    period = sa.and_(deliveries.c.id >= low, deliveries.c.id < high)
    took = _seconds_between(db, deliveries.c.delivered_at, deliveries.c.created_at)
    delivered = sa.and_(period, deliveries.c.status == "delivered", deliveries.c.delivered_at.is_not(None))
    async with db.transaction() as conn:
        counts: dict[str, dict[str, int]] = {}
        for destination, status, n in await conn.execute(
            sa.select(deliveries.c.destination, deliveries.c.status, sa.func.count())
            .where(period)
            .group_by(deliveries.c.destination, deliveries.c.status)
        ):
            counts.setdefault(destination, {})[status] = int(n)
        means = {
            destination: (float(mean) if mean is not None else None, int(n))
            for destination, mean, n in await conn.execute(
                sa.select(deliveries.c.destination, sa.func.avg(took), sa.func.count())
                .where(delivered)
                .group_by(deliveries.c.destination)
            )
        }
    for destination in sorted(counts):
        mean, n = means.get(destination, (None, 0))
        p95 = None
        if n:
            rank = max(0, -(-95 * n // 100) - 1)  # nearest rank: ceil(0.95 n), from zero
            async with db.transaction() as conn:
                value = await conn.scalar(
                    sa.select(took)
                    .where(delivered, deliveries.c.destination == destination)
                    .order_by(took)
                    .offset(rank)
                    .limit(1)
                )
            p95 = float(value) if value is not None else None
        yield {
            "destination": destination,
            "statuses": counts[destination],
            "delivered_mean_seconds": mean,
            "delivered_p95_seconds": p95,
        }


DEAD_FIELDS = (
    "id",
    "message_id",
    "destination",
    "platform",
    "attempt_count",
    "last_status_code",
    "last_error",
    "created_at",
    "updated_at",
)


async def dead_deliveries(
    db: Database, start: datetime, end: datetime, *, chunk: int = CHUNK
) -> AsyncIterator[dict[str, Any]]:
    """Every dead delivery created in the period, oldest first, with its last error (``DEAD_FIELDS``)."""
    low, high = _id_bounds(start, end)
    query = sa.select(*(deliveries.c[f] for f in DEAD_FIELDS)).where(
        deliveries.c.status == "dead", deliveries.c.id < high
    )
    async for row in _keyset(db, query, deliveries.c.id, _before(low), chunk):
        yield row


ATTEMPT_FIELDS = (
    "id",
    "delivery_id",
    "number",
    "started_at",
    "duration_ms",
    "outcome",
    "status_code",
    "error",
    "detail",
)


async def delivery_attempts_of(
    db: Database, start: datetime, end: datetime, *, destinations: list[str] | None = None, chunk: int = CHUNK
) -> AsyncIterator[dict[str, Any]]:
    """Attempts made in the period, oldest first: ``ATTEMPT_FIELDS`` plus their delivery's
    ``destination`` and ``message_id`` and the message's ``external_id``.

    ``destinations`` keeps the attempts of deliveries to those destinations only.
    """
    query = (
        sa.select(
            *(delivery_attempts.c[f] for f in ATTEMPT_FIELDS),
            deliveries.c.destination,
            deliveries.c.message_id,
            messages.c.external_id,
        )
        .join(deliveries, deliveries.c.id == delivery_attempts.c.delivery_id)
        .join(messages, messages.c.id == deliveries.c.message_id)
        .where(delivery_attempts.c.started_at >= start, delivery_attempts.c.started_at < end)
    )
    if destinations is not None:
        query = query.where(deliveries.c.destination.in_(destinations))
    async for row in _keyset(db, query, delivery_attempts.c.id, 0, chunk):
        yield row


# The audit columns a report may carry: the same as the log list's (captured payloads left out).
AUDIT_FIELDS = LOG_FIELDS


async def audit_entries(
    db: Database, start: datetime, end: datetime, *, chunk: int = CHUNK
) -> AsyncIterator[dict[str, Any]]:
    """Audit log entries of the period, oldest first (``AUDIT_FIELDS``; captured payloads are left out)."""
    # The period's id range first (two reads of the ``at`` index), then pages by id within it:
    # paging on ``id`` under a filter on ``at`` alone lets SQLite re-read the period per page.
    async with db.transaction() as conn:
        first = await conn.scalar(sa.select(sa.func.min(audit_log.c.id)).where(audit_log.c.at >= start))
        last = await conn.scalar(sa.select(sa.func.max(audit_log.c.id)).where(audit_log.c.at < end))
    if first is None or last is None:
        return
    query = sa.select(*(audit_log.c[f] for f in AUDIT_FIELDS)).where(
        audit_log.c.id <= last, audit_log.c.at >= start, audit_log.c.at < end
    )
    async for row in _keyset(db, query, audit_log.c.id, first - 1, chunk):
        yield row


def _before(low: uuid.UUID) -> uuid.UUID:
    """The id just below ``low``: keyset starts exclusive, the period's floor is inclusive."""
    return uuid.UUID(int=max(0, low.int - 1))
