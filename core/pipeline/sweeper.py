"""The sweeper: the database, not the queue, decides what gets delivered.

It re-enqueues every delivery that is due and not held by a live worker: those whose
enqueue failed (Redis down at commit), whose job vanished (Redis flushed) or whose worker
died mid-attempt (its lease ran out).

A destination whose breaker is not closed (``core.pipeline.breaker``) has its deliveries left
waiting; once its cool-down is over, the sweeper hands out one of them as the probe.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from core.pipeline.breaker import CACHE_TTL, held_back
from core.pipeline.queue.base import QueueItem
from core.pipeline.statuses import WAITING, claimable
from core.storage.models import deliveries

if TYPE_CHECKING:
    from core.gateway import Gateway

log = logging.getLogger("switchboard.sweeper")
SWEEP_BATCH = 5000
SWEEP_MAX = 200_000  # deliveries enqueued by one sweep at most; the next sweep goes on
# Longer than a batch's stored-message hooks hold its deliveries back (core.pipeline.ingest.HOOKS_WAIT).
STARTUP_GRACE = 15.0


async def sweep(
    gateway: Gateway,
    *,
    grace: float | None = None,
    destination: str | None = None,
    at: datetime | None = None,
    held_too: bool = False,
) -> int:
    """Enqueue due deliveries overdue by more than ``grace`` seconds; returns how many.

    Pages through them by id, so a backlog (Redis flushed under a million waiting deliveries)
    is enqueued in one sweep, up to ``SWEEP_MAX``, rather than ``SWEEP_BATCH`` per interval.
    ``destination`` restricts the sweep to one destination (its backlog once it is resumed);
    ``at`` defers what it enqueues; ``held_too`` enqueues also what the queue holds for later
    (a retry's timer on the local queue), which moves it to ``at``.
    """
    now = datetime.now(UTC)
    if grace is None:
        grace = gateway.settings.queue.sweep_interval
    cutoff = now - timedelta(seconds=grace)
    local = None if held_too else getattr(gateway.queue, "holds", None)
    async with gateway.db.transaction() as conn:
        held, probe_due = await held_back(conn, now)
    if destination is not None:
        held = [] if destination not in held else [destination]
    found = await _probes(gateway, probe_due if destination is None else [], now)
    after = None
    while found < SWEEP_MAX:
        query = (
            sa.select(deliveries.c.id, deliveries.c.attempt_count, deliveries.c.destination)
            .where(claimable(now, due_by=cutoff))
            .order_by(deliveries.c.id)
            .limit(SWEEP_BATCH)
        )
        if destination is not None:
            query = query.where(deliveries.c.destination == destination)
        if held:
            query = query.where(deliveries.c.destination.not_in(held))
        if after is not None:
            query = query.where(deliveries.c.id > after)
        async with gateway.db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        if not rows:
            break
        after = rows[-1].id
        items = [QueueItem(r.id, r.attempt_count, r.destination) for r in rows if not (local and local(r.id))]
        if items:
            added = await gateway.queue.enqueue(items, at=at)
            # The arq backend says how many jobs were new: the rest were still queued.
            log.info("sweeper found %d due deliveries; %s enqueued", len(items), added if added is not None else "all")
        found += len(items)
        if len(rows) < SWEEP_BATCH:
            break
    return found


async def _probes(gateway: Gateway, names: list[str], now: datetime) -> int:
    """Enqueue one due delivery of each paused destination whose cool-down is over: its probe."""
    items: list[QueueItem] = []
    for name in names:
        async with gateway.db.transaction() as conn:
            row = (
                await conn.execute(
                    sa.select(deliveries.c.id, deliveries.c.attempt_count, deliveries.c.destination)
                    .where(deliveries.c.destination == name, claimable(now))
                    .order_by(deliveries.c.id)
                    .limit(1)
                )
            ).first()
        if row is not None:
            items.append(QueueItem(row.id, row.attempt_count, row.destination))
    if items:
        await gateway.queue.enqueue(items)
    return len(items)


async def startup_sweep(gateway: Gateway) -> int:
    """A worker's sweep as it starts: what is due, at once (Redis may have lost it while no
    worker ran), except deliveries due for less than ``STARTUP_GRACE``. The process that stored
    those queues them itself once their messages' stored-message hooks have run (what a hook
    records, an e-mail's thread, is there for them); the regular sweep takes any it did not."""
    return await sweep(gateway, grace=STARTUP_GRACE)


async def release_backlog(gateway: Gateway, destination: str) -> int:
    """Enqueue a resumed destination's waiting deliveries, those waiting out a backoff included.

    The destination is back: a delivery that went ``retrying`` before the pause (or during it,
    as a failed probe) is due now rather than when its backoff ends. Deferred by a little more
    than how stale another process's view of the breaker may be, so that no process still
    seeing the destination paused drops them; the sweeper would find them anyway, one interval
    later.
    """
    await _due_now(gateway, destination)
    at = datetime.now(UTC) + timedelta(seconds=CACHE_TTL * 1.5)
    return await sweep(gateway, grace=0, destination=destination, at=at, held_too=True)


async def _due_now(gateway: Gateway, destination: str) -> None:
    """Make every waiting delivery of ``destination`` due now, in chunks by id."""
    now = datetime.now(UTC)
    t = deliveries.c
    later = (t.destination == destination, t.status.in_(WAITING), t.next_attempt_at > now)
    after = None
    while True:
        async with gateway.db.transaction() as conn:
            query = sa.select(t.id).where(*later).order_by(t.id).limit(SWEEP_BATCH)
            if after is not None:
                query = query.where(t.id > after)
            ids = [r.id for r in await conn.execute(query)]
            if ids:
                await conn.execute(
                    sa.update(deliveries).where(t.id.in_(ids), *later).values(next_attempt_at=now, updated_at=now)
                )
        if len(ids) < SWEEP_BATCH:
            return
        after = ids[-1]
