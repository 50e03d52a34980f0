"""The in-process queue: asyncio workers in the API process. Nothing else to run.

Deferred items wait on loop timers; the sweeper finds anything due that no timer holds (a
restart, a crash), so the database alone decides what is delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.pipeline.cron import Clock, CronScheduler, SystemClock
from core.pipeline.deliveries import BUSY_DEFER, DestinationBusy
from core.pipeline.queue.base import QueueItem

if TYPE_CHECKING:
    from core.gateway import Gateway

log = logging.getLogger("switchboard.queue")
CLOSE_GRACE = 10.0


class LocalQueue:
    name = "local"

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._queue: asyncio.Queue[QueueItem] = asyncio.Queue()
        self._queued: set[uuid.UUID] = set()
        self._timers: dict[uuid.UUID, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._consume = False
        self._closing = False
        self._busy: set[asyncio.Task[Any]] = set()
        # Plugin jobs past their ``defer`` wait: like an attempt under way, given time to finish.
        self._jobs_running: set[asyncio.Task[Any]] = set()
        # What the cron scheduler reads the time from (a test sets its own before start()).
        self.cron_clock: Clock = SystemClock()
        self._cron: CronScheduler | None = None

    async def start(self, *, consume: bool) -> None:
        self._consume = consume
        if not consume:
            return
        workers = self.gateway.settings.queue.local_workers
        self._tasks = [asyncio.create_task(self._work(), name=f"local-worker-{i}") for i in range(workers)]
        self._cron = CronScheduler(self.gateway, self.gateway.cron_jobs(), worker="local", clock=self.cron_clock)
        self._cron.start()

    async def close(self) -> None:
        """Stop: idle workers and deferred jobs at once; attempts and jobs under way are given
        time to finish and record.

        Cancelling one mid-transaction would strand its database connection (and on SQLite, the
        write lock, so the next writer fails with "database is locked"); whatever is still
        unfinished after the grace period is cancelled: an attempt's lease lets the sweeper
        retry it later, a job's own pick-up (a report left pending) runs it again.
        """
        self._closing = True
        if self._cron is not None:
            await self._cron.close(CLOSE_GRACE)
            self._cron = None
        for timer in self._timers.values():
            timer.cancel()
        under_way = self._busy | self._jobs_running
        for task in self._tasks:
            if task not in under_way:
                task.cancel()
        busy = [t for t in self._tasks if t in under_way]
        if busy:
            await asyncio.wait(busy, timeout=CLOSE_GRACE)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def enqueue(self, items: list[QueueItem], *, at: datetime | None = None) -> None:
        if not self._consume:
            return  # another process consumes; the sweeper there will find these
        delay = (at - datetime.now(UTC)).total_seconds() if at else 0.0
        loop = asyncio.get_running_loop()
        for item in items:
            if item.delivery_id in self._queued:
                continue
            if delay > 0:
                old = self._timers.pop(item.delivery_id, None)
                if old:
                    old.cancel()
                self._timers[item.delivery_id] = loop.call_later(delay, self._put, item)
            else:
                self._put(item)

    def _put(self, item: QueueItem) -> None:
        self._timers.pop(item.delivery_id, None)
        if item.delivery_id not in self._queued:
            self._queued.add(item.delivery_id)
            self._queue.put_nowait(item)

    def holds(self, delivery_id: uuid.UUID) -> bool:
        return delivery_id in self._queued or delivery_id in self._timers

    async def _work(self) -> None:
        me = asyncio.current_task()
        assert me is not None
        while not self._closing:
            item = await self._queue.get()
            delivery_id = item.delivery_id
            # Taken off the queue: from here a retry scheduled by the attempt may enqueue it again.
            self._queued.discard(delivery_id)
            self._busy.add(me)
            try:
                await self.gateway.deliveries.run(delivery_id, item.destination, worker="local")
            except DestinationBusy:
                self._timers[delivery_id] = asyncio.get_running_loop().call_later(BUSY_DEFER, self._put, item)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery %s failed unexpectedly; the sweeper will retry it", delivery_id)
            finally:
                self._busy.discard(me)

    async def enqueue_job(self, function: str, *args: Any, defer: float | None = None) -> None:
        """Run a plugin job in-process (the local stand-in for arq's ``enqueue_job``)."""
        jobs = self.gateway.jobs()
        if function not in jobs:
            raise KeyError(f"no job named {function!r}")

        async def run() -> None:
            if defer:
                await asyncio.sleep(defer)
            me = asyncio.current_task()
            assert me is not None
            self._jobs_running.add(me)
            try:
                await jobs[function]({"gateway": self.gateway}, *args)
            except Exception:
                log.exception("job %s failed", function)
            finally:
                self._jobs_running.discard(me)

        self._tasks.append(asyncio.create_task(run(), name=f"job-{function}"))
        self._tasks = [t for t in self._tasks if not t.done()]

    async def ping(self) -> None:
        return None

    async def acquire_slot(self, destination: str, limit: int, ttl: float) -> str | None:
        # One process holds every slot: the delivery engine's own semaphore is the limit.
        return "local"

    async def release_slot(self, destination: str, token: str) -> None:
        return None

    async def claim_tick(self, job: str, tick: datetime, *, ttl: float) -> bool:
        return True  # one process runs every tick; its scheduler sees a run still going itself

    async def lock_job(self, job: str, *, ttl: float) -> str | None:
        return "local"

    async def unlock_job(self, job: str, token: str) -> None:
        return None
