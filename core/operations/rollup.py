"""The dashboard's hourly rollup: the counts of each closed hour, computed once from the source tables.

What is counted is fixed once the hour is over, whatever happens to the rows later:

- ``in`` / ``out``: messages received in the hour, per direction (``name``: their platform);
- ``created``: deliveries created in the hour (``name``: their destination);
- ``delivered`` / ``retry`` / ``dead``: delivery attempts *started* in the hour, per outcome
  (``name``: the delivery's destination). A delivery that is retried, dies, is requeued and
  delivered counts one ``retry``, one ``dead`` and one ``delivered``, each in its own hour.

Nothing is counted on the delivery path: the ``dashboard_rollup`` cron job (``core.builtin``)
rolls up closed hours ``margin`` after their end (attempts are written when they end, at most
the queue's ``job_timeout`` after they start), at most ``MAX_HOURS`` a run, newest first, back
to ``RETENTION_DAYS``. An hour is claimed by inserting its ``rollup_hours`` row (``ON CONFLICT DO
NOTHING``) in the same transaction as its counts, so concurrent runs on several workers write
one row set. Rollups outlive the rows they count (a purge does not change a rolled-up hour)
and are removed after ``RETENTION_DAYS`` by the same job.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from core.storage.db import Database
from core.storage.models import deliveries, delivery_attempts, messages, rollup_counts, rollup_hours

HOUR = timedelta(hours=1)
# An hour is rolled up this long after its end, at the least (more when attempts may run longer).
MARGIN = timedelta(minutes=5)
# Hours rolled up by one run at most (a backfill goes on at the next run).
MAX_HOURS = 72
# Rolled-up hours are kept this long, and a backfill goes back no further.
RETENTION_DAYS = 90
OUTCOMES = ("delivered", "retry", "dead")


def hour_floor(at: datetime) -> datetime:
    """The start of the UTC hour holding ``at``."""
    at = at.astimezone(UTC)
    return at.replace(minute=0, second=0, microsecond=0)


def margin_for(job_timeout: float) -> timedelta:
    """How long after an hour's end it is rolled up: ``MARGIN``, or the longest attempt and a minute."""
    return max(MARGIN, timedelta(seconds=job_timeout + 60))


def _insert(conn: Any, table: sa.Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


async def hour_counts(conn: Any, start: datetime, end: datetime) -> list[tuple[str, str, int]]:
    """``(metric, name, count)`` of the rows of ``[start, end)``, counted from the source tables."""
    rows: list[tuple[str, str, int]] = []
    for direction, platform, count in await conn.execute(
        sa.select(messages.c.direction, messages.c.platform, sa.func.count())
        .where(messages.c.received_at >= start, messages.c.received_at < end)
        .group_by(messages.c.direction, messages.c.platform)
    ):
        rows.append((direction, platform, int(count)))
    for destination, count in await conn.execute(
        sa.select(deliveries.c.destination, sa.func.count())
        .where(deliveries.c.created_at >= start, deliveries.c.created_at < end)
        .group_by(deliveries.c.destination)
    ):
        rows.append(("created", destination, int(count)))
    rows.extend(await outcome_counts(conn, start, end))
    return rows


async def outcome_counts(conn: Any, start: datetime, end: datetime | None) -> list[tuple[str, str, int]]:
    """``(outcome, destination, count)`` of the attempts started in ``[start, end)`` (no end: up to now)."""
    query = (
        sa.select(delivery_attempts.c.outcome, deliveries.c.destination, sa.func.count())
        .select_from(delivery_attempts.join(deliveries, deliveries.c.id == delivery_attempts.c.delivery_id))
        .where(delivery_attempts.c.started_at >= start)
        .group_by(delivery_attempts.c.outcome, deliveries.c.destination)
    )
    if end is not None:
        query = query.where(delivery_attempts.c.started_at < end)
    return [(outcome, destination, int(count)) for outcome, destination, count in await conn.execute(query)]


async def roll_hour(db: Database, hour: datetime, *, now: datetime | None = None) -> bool:
    """Roll up the hour starting at ``hour`` unless it is already; returns whether this call did.

    The hour's ``rollup_hours`` row is inserted first, in the transaction that writes its counts:
    a concurrent caller's insert waits for this one's commit, then does nothing.
    """
    now = now or datetime.now(UTC)
    async with db.transaction() as conn:
        claimed = await conn.execute(
            _insert(conn, rollup_hours).values(hour=hour, rolled_at=now).on_conflict_do_nothing()
        )
        if not claimed.rowcount:
            return False
        counts = await hour_counts(conn, hour, hour + HOUR)
        if counts:
            await conn.execute(
                _insert(conn, rollup_counts).on_conflict_do_nothing(),
                [{"hour": hour, "metric": m, "name": n, "count": c} for m, n, c in counts],
            )
    return True


async def _oldest(conn: Any) -> datetime | None:
    """The time of the oldest row counted (one index seek per table), or None with no rows."""
    firsts = [
        await conn.scalar(sa.select(sa.func.min(messages.c.received_at))),
        await conn.scalar(sa.select(sa.func.min(deliveries.c.created_at))),
        await conn.scalar(sa.select(sa.func.min(delivery_attempts.c.started_at))),
    ]
    known = [f for f in firsts if f is not None]
    return min(known) if known else None


async def hours_to_roll(
    db: Database, *, now: datetime, margin: timedelta = MARGIN, days: int = RETENTION_DAYS
) -> list[datetime]:
    """The closed hours not rolled up yet, newest first: back to ``days`` ago or the oldest row."""
    last = hour_floor(now - margin) - HOUR
    async with db.transaction() as conn:
        oldest = await _oldest(conn)
        if oldest is None:
            return []
        first = max(hour_floor(now - timedelta(days=days)), hour_floor(oldest))
        done = set(await conn.scalars(sa.select(rollup_hours.c.hour).where(rollup_hours.c.hour >= first)))
    hours: list[datetime] = []
    hour = last
    while hour >= first:
        if hour not in done:
            hours.append(hour)
        hour -= HOUR
    return hours


async def roll_up(
    db: Database,
    *,
    now: datetime | None = None,
    margin: timedelta = MARGIN,
    max_hours: int = MAX_HOURS,
    days: int = RETENTION_DAYS,
) -> int:
    """Roll up at most ``max_hours`` closed hours not rolled up yet, newest first; returns how many."""
    now = now or datetime.now(UTC)
    rolled = 0
    for hour in (await hours_to_roll(db, now=now, margin=margin, days=days))[:max_hours]:
        rolled += await roll_hour(db, hour, now=now)
    return rolled


async def purge_rollups(db: Database, *, now: datetime | None = None, days: int = RETENTION_DAYS) -> int:
    """Delete rolled-up hours older than ``days``; returns how many hours."""
    cutoff = hour_floor((now or datetime.now(UTC)) - timedelta(days=days))
    async with db.transaction() as conn:
        await conn.execute(sa.delete(rollup_counts).where(rollup_counts.c.hour < cutoff))
        result = await conn.execute(sa.delete(rollup_hours).where(rollup_hours.c.hour < cutoff))
    return int(result.rowcount or 0)


async def rolled_hours(conn: Any, start: datetime, end: datetime) -> set[datetime]:
    """The rolled-up hours in ``[start, end)``."""
    return set(
        await conn.scalars(
            sa.select(rollup_hours.c.hour).where(rollup_hours.c.hour >= start, rollup_hours.c.hour < end)
        )
    )


def live_ranges(hours: Iterable[datetime], rolled: set[datetime]) -> list[tuple[datetime, datetime]]:
    """The runs of consecutive ``hours`` not in ``rolled``, as ``[start, end)`` ranges."""
    ranges: list[tuple[datetime, datetime]] = []
    for hour in hours:
        if hour in rolled:
            continue
        if ranges and ranges[-1][1] == hour:
            ranges[-1] = (ranges[-1][0], hour + HOUR)
        else:
            ranges.append((hour, hour + HOUR))
    return ranges
