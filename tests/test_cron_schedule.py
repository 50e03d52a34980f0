"""Cron jobs run at their UTC wall-clock ticks, whatever the process start or the delivery backlog.

Each test drives the scheduler's clock itself (``SteppedClock``), on both stacks: the local
queue's scheduler, or an arq worker's. Assertions are on the recorded run of the expected tick.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import CronJob, StandardMessage, hookimpl
from core.gateway import Gateway
from core.pipeline.cron import CronScheduler
from core.pipeline.job_runs import set_enabled
from core.pipeline.queue.local import LocalQueue
from core.pipeline.worker import build_worker
from core.storage.models import job_runs
from core.testing import stop_worker, wait_until
from core.testkit.receiver import serving
from tests.conftest import Stack

T0 = datetime(2026, 12, 6, 3, 9, 45, 500000, tzinfo=UTC)


class SteppedClock:
    """A clock the test moves: the scheduler's sleep ends when the test sets a time at or past it."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._moved = asyncio.Condition()
        self.sleepers = 0

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, when: datetime) -> None:
        async with self._moved:
            self.sleepers += 1
            try:
                await self._moved.wait_for(lambda: self._now >= when)
            finally:
                self.sleepers -= 1

    async def set(self, when: datetime) -> None:
        """Move to ``when`` once the scheduler waits for its next tick (it read the start time, caught up)."""
        await wait_until(lambda: self.sleepers > 0, message="the scheduler to wait for its next tick")
        async with self._moved:
            self._now = when
            self._moved.notify_all()


class Probe:
    """A plugin with cron jobs that note each tick they ran for; ``gate`` holds a run until set."""

    def __init__(self, *jobs: tuple[str, int]) -> None:
        self.jobs = jobs
        self.ticks: dict[str, list[datetime]] = {name: [] for name, _ in jobs}
        self.gate = asyncio.Event()
        self.gate.set()

    @hookimpl
    def switchboard_jobs(self) -> list[Any]:
        def job(name: str) -> Any:
            async def run(ctx: dict[str, Any]) -> None:
                self.ticks[name].append(ctx["tick"])
                await self.gate.wait()

            return run

        return [CronJob(name, job(name), every=every) for name, every in self.jobs]


@asynccontextmanager
async def scheduling(gateway: Gateway, clock: SteppedClock) -> AsyncIterator[Callable[[], CronScheduler]]:
    """Run ``gateway``'s cron jobs on ``clock``: its local queue, or an arq worker of its own.

    Yields a getter of the scheduler running them (the arq worker makes its own at start-up).
    """
    if isinstance(gateway.queue, LocalQueue):
        local = gateway.queue
        local.cron_clock = clock
        await gateway.start()
        try:
            yield lambda: local._cron  # type: ignore[return-value]
        finally:
            await gateway.close()
        return
    await gateway.start(run_queue=False)
    worker = build_worker(gateway.settings, gateway=gateway, poll_delay=0.01, cron_clock=clock)
    task = asyncio.create_task(worker.main())
    try:
        yield lambda: worker.ctx["cron"]  # type: ignore[no-any-return]
    finally:
        await stop_worker(worker, task)
        await gateway.close()


async def runs(gateway: Gateway, name: str) -> list[dict[str, Any]]:
    """The job's recorded runs, oldest first."""
    query = sa.select(job_runs).where(job_runs.c.name == name).order_by(job_runs.c.id)
    async with gateway.db.transaction() as conn:
        return [dict(r) for r in (await conn.execute(query)).mappings().all()]


async def run_for(gateway: Gateway, name: str, tick: datetime) -> dict[str, Any]:
    """Wait until the job's run for ``tick`` is recorded; return it."""

    async def found() -> dict[str, Any] | None:
        return next((r for r in await runs(gateway, name) if r["tick"] == tick), None)

    run: dict[str, Any] = await wait_until(found, message=f"the run of {name} for its tick of {tick:%H:%M:%S}")
    return run


async def ran_recently(gateway: Gateway, name: str, at: datetime) -> None:
    """Record a run of ``name`` at ``at`` (a job that ran within its period is not caught up)."""
    async with gateway.db.transaction() as conn:
        await conn.execute(
            sa.insert(job_runs).values(
                name=name, trigger="schedule", started_at=at, duration_ms=1.0, outcome="succeeded"
            )
        )


async def test_a_job_runs_at_the_wall_clock_tick_not_a_period_after_start(clean_stack: Stack) -> None:
    probe = Probe(("minutely", 60))
    gateway = Gateway(clean_stack.settings(), [("probe", probe)])
    clock = SteppedClock(T0)
    await ran_recently(gateway, "minutely", T0 - timedelta(seconds=10))
    async with scheduling(gateway, clock):
        await clock.set(datetime(2026, 12, 6, 3, 10, 0, 1000, tzinfo=UTC))
        run = await run_for(gateway, "minutely", datetime(2026, 12, 6, 3, 10, tzinfo=UTC))
    assert run["outcome"] == "succeeded" and run["trigger"] == "schedule"
    assert probe.ticks["minutely"] == [datetime(2026, 12, 6, 3, 10, tzinfo=UTC)]


async def test_a_job_not_run_within_its_period_runs_at_start_for_its_latest_tick(clean_stack: Stack) -> None:
    probe = Probe(("hourly_overdue", 3600), ("hourly_never", 3600), ("hourly_recent", 3600))
    gateway = Gateway(clean_stack.settings(), [("probe", probe)])
    clock = SteppedClock(T0)
    await ran_recently(gateway, "hourly_overdue", T0 - timedelta(hours=2))
    await ran_recently(gateway, "hourly_recent", T0 - timedelta(minutes=10))
    this_hour, next_hour = T0.replace(minute=0, second=0, microsecond=0), datetime(2026, 12, 6, 4, tzinfo=UTC)
    async with scheduling(gateway, clock):
        assert (await run_for(gateway, "hourly_overdue", this_hour))["outcome"] == "succeeded"
        assert (await run_for(gateway, "hourly_never", this_hour))["outcome"] == "succeeded"
        await clock.set(next_hour)
        await run_for(gateway, "hourly_recent", next_hour)
        recent = await runs(gateway, "hourly_recent")
    # The job that ran ten minutes ago waited for the top of the hour.
    assert [r["tick"] for r in recent] == [None, next_hour]


async def test_a_tick_while_the_last_run_is_still_going_is_recorded_as_skipped(clean_stack: Stack) -> None:
    probe = Probe(("slow", 60))
    gateway = Gateway(clean_stack.settings(), [("probe", probe)])
    clock = SteppedClock(T0)
    first, second, third = (datetime(2026, 12, 6, 3, m, tzinfo=UTC) for m in (9, 10, 11))
    probe.gate.clear()
    async with scheduling(gateway, clock) as scheduler:
        await wait_until(lambda: probe.ticks["slow"] == [first], message="the start-up run to be under way")
        await clock.set(second)
        skipped = await run_for(gateway, "slow", second)
        probe.gate.set()
        assert (await run_for(gateway, "slow", first))["outcome"] == "succeeded"
        # Recorded is not yet ended: the run still releases its lock. A tick in between is skipped.
        await scheduler().finished("slow")
        await clock.set(third)
        assert (await run_for(gateway, "slow", third))["outcome"] == "succeeded"
    assert skipped["outcome"] == "skipped" and skipped["trigger"] == "schedule"
    assert skipped["error"] == f"the run for the tick of {first.isoformat()} was still running"
    assert probe.ticks["slow"] == [first, third]


async def test_ticks_the_process_was_busy_past_are_skipped_and_the_latest_runs(clean_stack: Stack) -> None:
    probe = Probe(("often", 60))
    gateway = Gateway(clean_stack.settings(), [("probe", probe)])
    clock = SteppedClock(T0)
    await ran_recently(gateway, "often", T0 - timedelta(seconds=10))
    missed = [datetime(2026, 12, 6, 3, m, tzinfo=UTC) for m in (10, 11)]
    latest = datetime(2026, 12, 6, 3, 12, tzinfo=UTC)
    async with scheduling(gateway, clock):
        await clock.set(latest + timedelta(seconds=5))
        assert (await run_for(gateway, "often", latest))["outcome"] == "succeeded"
        skipped = [await run_for(gateway, "often", tick) for tick in missed]
    assert [r["outcome"] for r in skipped] == ["skipped", "skipped"]
    assert all("busy past this tick" in r["error"] for r in skipped)
    assert probe.ticks["often"] == [latest]


async def test_a_disabled_job_records_its_tick_as_skipped_and_runs_again_once_enabled(clean_stack: Stack) -> None:
    probe = Probe(("switched", 60))
    gateway = Gateway(clean_stack.settings(), [("probe", probe)])
    clock = SteppedClock(T0)
    await ran_recently(gateway, "switched", T0 - timedelta(seconds=10))
    while_off, once_on = (datetime(2026, 12, 6, 3, m, tzinfo=UTC) for m in (10, 11))
    async with scheduling(gateway, clock):
        await set_enabled(gateway.db, "switched", False, by="admin")
        await clock.set(while_off)
        skipped = await run_for(gateway, "switched", while_off)
        await set_enabled(gateway.db, "switched", True, by="admin")
        await clock.set(once_on)
        ran = await run_for(gateway, "switched", once_on)
    assert skipped["outcome"] == "skipped" and skipped["error"] == "disabled" and skipped["trigger"] == "schedule"
    assert ran["outcome"] == "succeeded"
    assert probe.ticks["switched"] == [once_on]


class HeldReceiver:
    """The far side of a destination that holds every request until released."""

    def __init__(self) -> None:
        self.held = 0
        self.release = asyncio.Event()

    async def handle(self, request: Request) -> Response:
        await request.body()
        self.held += 1
        await self.release.wait()
        return JSONResponse({"id": uuid.uuid4().hex})


async def test_a_cron_job_runs_at_its_tick_behind_a_backlog_of_slow_deliveries(clean_stack: Stack) -> None:
    probe = Probe(("tick_probe", 60))
    receiver = HeldReceiver()
    app = Starlette(routes=[Route("/inbox", receiver.handle, methods=["POST"])])
    async with serving(app) as base:
        settings = clean_stack.settings(
            queue={"local_workers": 1, "worker_jobs": 1},
            plugins={"http": {"destinations": {"slow": {"url": f"{base}/inbox"}}}},
        )
        gateway = Gateway(settings, [("probe", probe)])
        clock = SteppedClock(T0)
        await ran_recently(gateway, "tick_probe", T0 - timedelta(seconds=10))
        tick = datetime(2026, 12, 6, 3, 10, tzinfo=UTC)
        try:
            async with scheduling(gateway, clock):
                for n in range(20):  # a backlog: each submit is a job of its own behind the first
                    message = StandardMessage(platform="backlog", external_id=f"m-{n}", kind="text", text="reading")
                    await gateway.submit([message], destinations=["slow"])
                await wait_until(lambda: receiver.held >= 1, message="the receiver to hold a delivery")
                await clock.set(tick)
                run = await run_for(gateway, "tick_probe", tick)
                assert receiver.held < 20  # the backlog is still there: the tick did not wait for it
                receiver.release.set()
        finally:
            receiver.release.set()
    assert run["outcome"] == "succeeded"
