"""The sweeper: the database, not the queue, decides what gets delivered.

It re-enqueues every delivery that is due and not held by a live worker: those whose
enqueue failed (Redis down at commit), whose job vanished (Redis flushed) or whose worker
died mid-attempt (its lease ran out).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from core.pipeline.queue.base import QueueItem
from core.pipeline.statuses import claimable
from core.storage.models import deliveries

if TYPE_CHECKING:
    from core.gateway import Gateway

log = logging.getLogger("switchboard.sweeper")
SWEEP_BATCH = 5000
SWEEP_MAX = 200_000  # deliveries enqueued by one sweep at most; the next sweep goes on


async def sweep(gateway: Gateway, *, grace: float | None = None) -> int:
    """Enqueue due deliveries overdue by more than ``grace`` seconds; returns how many.

    Pages through them by id, so a backlog (Redis flushed under a million waiting deliveries)
    is enqueued in one sweep, up to ``SWEEP_MAX``, rather than ``SWEEP_BATCH`` per interval.
    """
    now = datetime.now(UTC)
    if grace is None:
        grace = gateway.settings.queue.sweep_interval
    cutoff = now - timedelta(seconds=grace)
    local = getattr(gateway.queue, "holds", None)
    found = 0
    after = None
    while found < SWEEP_MAX:
        query = (
            sa.select(deliveries.c.id, deliveries.c.attempt_count, deliveries.c.destination)
            .where(claimable(now, due_by=cutoff))
            .order_by(deliveries.c.id)
            .limit(SWEEP_BATCH)
        )
        if after is not None:
            query = query.where(deliveries.c.id > after)
        async with gateway.db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        if not rows:
            break
        after = rows[-1].id
        items = [QueueItem(r.id, r.attempt_count, r.destination) for r in rows if not (local and local(r.id))]
        if items:
            added = await gateway.queue.enqueue(items)
            # The arq backend says how many jobs were new: the rest were still queued.
            log.info("sweeper found %d due deliveries; %s enqueued", len(items), added if added is not None else "all")
        found += len(items)
        if len(rows) < SWEEP_BATCH:
            break
    return found
