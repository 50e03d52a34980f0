"""The cron scheduler: every cron job at its ticks on the UTC clock, each run on a task of its own.

One scheduler runs in each process that runs jobs (the local queue's process, every arq
worker). It is not a queue consumer: a run never waits behind deliveries for a queue slot.
A job's ticks are the multiples of its ``every`` seconds since the epoch, the ticks of arq's
cron (``CronJob.arq_schedule``). Across processes, the queue backend decides who runs a tick
(``claim_tick``: once for all the workers of one ``[queue] name``) and whether a run of the
job is still going (``lock_job``). A tick that cannot run is recorded in the job's run history
as ``skipped``, with the reason:

- the job's run for an earlier tick is still going (here or in another worker);
- the process was busy past the tick: its scheduler woke when the job's next tick had
  already come; that later tick runs, the earlier one is skipped;
- an admin has disabled the job (``disabled``): ``job_runs.run_recorded`` reads the job's
  state in the database at each tick, so the switch holds on every process.

At start, a job that has not run within its period (or has never run) runs at once for its
latest tick, rather than a period later: a process restarted more often than hourly still
runs its hourly jobs. A ``run_at_startup`` job runs at start whatever its history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from core.contracts import CronJob
from core.pipeline import job_runs

if TYPE_CHECKING:
    from core.gateway import Gateway

log = logging.getLogger("switchboard.jobs")
# How long a run's lock outlives the job timeout (a killed worker's lock frees itself then).
LOCK_MARGIN = 30.0
# The most ticks one wake-up records as skipped for a job (the latest of them).
MISSED_RECORDED = 10


class Clock(Protocol):
    """What the scheduler reads the time from and sleeps on (a test drives its own)."""

    def now(self) -> datetime: ...

    async def sleep_until(self, when: datetime) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        delay = (when - datetime.now(UTC)).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)


class CronScheduler:
    """Runs ``jobs`` at their ticks until closed; ``ctx`` (with ``ctx["tick"]`` added) is what a job gets."""

    def __init__(
        self,
        gateway: Gateway,
        jobs: list[CronJob],
        *,
        worker: str,
        ctx: dict[str, Any] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.gateway = gateway
        self.jobs = jobs
        self.worker = worker
        self.ctx = ctx if ctx is not None else {"gateway": gateway}
        self.clock: Clock = clock or SystemClock()
        self.timeout = float(gateway.settings.queue.job_timeout)
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._running: dict[str, tuple[datetime, asyncio.Task[None]]] = {}

    def start(self) -> None:
        if self.jobs and self._task is None:
            self._task = asyncio.create_task(self._schedule(), name="cron-scheduler")

    async def close(self, grace: float = 10.0) -> None:
        """Stop scheduling; runs under way get ``grace`` seconds to finish (and record), then are cancelled.

        The scheduler is stopped between two steps rather than cancelled: cancelled in the middle
        of recording a skipped tick it would strand its database connection.
        """
        self._stop.set()
        if self._task is not None:
            _done, pending = await asyncio.wait([self._task], timeout=grace)
            for task in pending:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        running = [task for _, task in self._running.values() if not task.done()]
        if running:
            _done, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        self._running.clear()

    async def finished(self, name: str) -> None:
        """Wait until the run of job ``name`` under way here, if any, has ended: its outcome
        recorded and its run lock released (what the next tick's "still running" check asks)."""
        entry = self._running.get(name)
        if entry is not None:
            await asyncio.wait([entry[1]])

    async def _schedule(self) -> None:
        # On a database not yet migrated every run would fail on a missing table, every tick. A
        # migration is run by another process: there is no event to wait on, only the database to ask.
        while not await self.gateway.migrated():
            if not await self._sleep_until(self.clock.now() + timedelta(seconds=1)):
                return
        now = self.clock.now()
        await self._catch_up(now)
        due = {job.name: job_runs.next_run(job, now) for job in self.jobs}
        while await self._sleep_until(min(due.values())):
            now = self.clock.now()
            for job in self.jobs:
                tick = due[job.name]
                if tick > now or self._stop.is_set():
                    continue
                latest = job_runs.last_tick(job, now)
                try:
                    await self._skip_missed(job, tick, latest, now)
                    await self._fire(job, latest)
                except Exception:  # the queue or the database is down: the next tick tries again
                    log.warning("cron job %s: could not schedule its tick of %s", job.name, latest, exc_info=True)
                due[job.name] = latest + timedelta(seconds=job.every)

    async def _sleep_until(self, when: datetime) -> bool:
        """Sleep until ``when``; False if the scheduler was stopped first."""
        sleep = asyncio.ensure_future(self.clock.sleep_until(when))
        stop = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait([sleep, stop], return_when=asyncio.FIRST_COMPLETED)
        for waiter in (sleep, stop):
            waiter.cancel()
        await asyncio.gather(sleep, stop, return_exceptions=True)
        return not self._stop.is_set()

    async def _catch_up(self, now: datetime) -> None:
        try:
            ran = await job_runs.last_ran(self.gateway.db)
        except Exception:
            log.warning("could not read when the cron jobs last ran; none is caught up", exc_info=True)
            ran = {}
        for job in self.jobs:
            if self._stop.is_set():
                return
            try:
                if job.run_at_startup:
                    await self._start_run(job, now)
                    continue
                last = ran.get(job.name)
                if last is None or last <= now - timedelta(seconds=job.every):
                    await self._fire(job, job_runs.last_tick(job, now))
            except Exception:
                log.warning("cron job %s: could not run it at start", job.name, exc_info=True)

    async def _skip_missed(self, job: CronJob, first: datetime, latest: datetime, now: datetime) -> None:
        """Record the ticks from ``first`` to before ``latest`` as skipped: the process was busy past them.

        Only the last ``MISSED_RECORDED`` are recorded one by one (a process stopped for an hour
        would otherwise write hundreds of rows for a 15 s job); the earliest of those counts the rest.
        """
        missed = int((latest - first).total_seconds()) // job.every
        if missed <= 0:
            return
        reason = f"the process was busy past this tick (until {now:%H:%M:%S}); a later tick ran"
        recorded = min(missed, MISSED_RECORDED)
        for n in range(missed - recorded, missed):
            if self._stop.is_set():
                return
            tick = first + timedelta(seconds=job.every * n)
            earlier = f" ({missed - recorded} earlier ticks were skipped too)" if n == missed - recorded and n else ""
            await self._skip(job, tick, reason + earlier)

    async def _skip(self, job: CronJob, tick: datetime, reason: str) -> None:
        if await self.gateway.queue.claim_tick(job.name, tick, ttl=2.0 * max(job.every, 60)):
            await job_runs.record_skipped(self.gateway.db, job.name, tick, reason, worker=self.worker)

    async def _fire(self, job: CronJob, tick: datetime) -> None:
        """Run the tick, unless another process has it; record it skipped if the last run is still going."""
        previous = self._running.get(job.name)
        if previous is not None and not previous[1].done():
            await self._skip(job, tick, f"the run for the tick of {previous[0].isoformat()} was still running")
            return
        if await self.gateway.queue.claim_tick(job.name, tick, ttl=2.0 * max(job.every, 60)):
            await self._start_run(job, tick)

    async def _start_run(self, job: CronJob, tick: datetime) -> None:
        lock = await self.gateway.queue.lock_job(job.name, ttl=self.timeout + LOCK_MARGIN)
        if lock is None:
            reason = "a run for an earlier tick was still running in another worker"
            await job_runs.record_skipped(self.gateway.db, job.name, tick, reason, worker=self.worker)
            return
        task = asyncio.create_task(self._run(job, tick, lock), name=f"cron-{job.name}")
        self._running[job.name] = (tick, task)

    async def _run(self, job: CronJob, tick: datetime, lock: str) -> None:
        try:
            ctx = {**self.ctx, "tick": tick}
            await job_runs.run_recorded(self.gateway, job, ctx, worker=self.worker, tick=tick, timeout=self.timeout)
        finally:
            try:
                await self.gateway.queue.unlock_job(job.name, lock)
            except Exception:  # the lock expires by itself
                log.warning("cron job %s: could not release its run lock", job.name, exc_info=True)
