"""The arq worker (``switchboard worker``): runs deliveries, plugin jobs and cron jobs.

Deliveries and plugin jobs come off the arq queue; cron jobs do not: the worker's
``CronScheduler`` runs them at their ticks on tasks of their own, so no delivery backlog delays
them (the scheduler and the backend see that each tick runs once across workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.config.settings import Settings
from core.contracts import job_name
from core.gateway import Gateway, freeze_startup_heap
from core.pipeline.cron import Clock, CronScheduler
from core.pipeline.deliveries import BUSY_DEFER, DestinationBusy
from core.pipeline.queue.arq_backend import ArqQueue
from core.pipeline.queue.base import QueueItem
from core.pipeline.sweeper import startup_sweep

log = logging.getLogger("switchboard.worker")


async def deliver(ctx: dict[str, Any], items: list[tuple[str, str]]) -> dict[str, int]:
    """Attempt each ``(delivery id, destination)`` that is due; returns counts by outcome."""
    gateway: Gateway = ctx["gateway"]
    busy: list[QueueItem] = []

    async def one(delivery_id: uuid.UUID, destination: str) -> str:
        try:
            outcome = await gateway.deliveries.run(delivery_id, destination, worker=ctx["worker_name"])
        except DestinationBusy:
            busy.append(QueueItem(delivery_id, -1, destination))
            return "busy"
        return outcome.status if outcome else "skipped"

    results = await asyncio.gather(*(one(uuid.UUID(i), d) for i, d in items))
    if busy:
        await gateway.queue.enqueue(busy, at=datetime.now(UTC) + timedelta(seconds=BUSY_DEFER))
    counts: dict[str, int] = {}
    for status in results:
        counts[status] = counts.get(status, 0) + 1
    return counts


def build_worker(
    settings: Settings,
    *,
    gateway: Gateway | None = None,
    burst: bool = False,
    poll_delay: float = 0.5,
    cron_clock: Clock | None = None,
    **overrides: Any,
) -> Worker:
    """An arq ``Worker`` for these settings, with the cron scheduler started and stopped with it.

    Without ``gateway`` it builds one and starts/closes it with the worker; with one, the
    caller owns it (``run_worker`` keeps it across Redis reconnections). ``cron_clock`` is the
    scheduler's clock (a test drives its own).
    """
    owned = gateway is None
    gateway = gateway or Gateway(settings)
    assert isinstance(gateway.queue, ArqQueue), 'switchboard worker needs [queue] backend = "arq"'
    functions: list[Any] = [deliver, *gateway.jobs().values()]
    crons = gateway.cron_jobs()

    async def on_startup(ctx: dict[str, Any]) -> None:
        if owned:
            await gateway.start(run_queue=False)
        ctx["gateway"] = gateway
        ctx["worker_name"] = f"{socket.gethostname()}:{os.getpid()}"
        await startup_sweep(gateway)
        scheduler = ctx["cron"] = CronScheduler(gateway, crons, worker=ctx["worker_name"], ctx=ctx, clock=cron_clock)
        scheduler.start()
        freeze_startup_heap()

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await stop_cron(ctx)
        if owned:
            await gateway.close()

    log.info("worker functions: %s", ", ".join(job_name(f) for f in functions))
    return Worker(
        functions=functions,
        redis_settings=gateway.queue.redis_settings,
        queue_name=gateway.queue.queue_name,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        job_timeout=settings.queue.job_timeout,
        max_jobs=settings.queue.worker_jobs,
        # The database counts attempts; arq only re-runs jobs it lost (worker killed).
        max_tries=1000,
        keep_result=0,
        burst=burst,
        poll_delay=poll_delay,
        handle_signals=False,
        **overrides,
    )


REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)
DRAIN_TIMEOUT = 30.0


async def run_worker(settings: Settings) -> None:
    """``switchboard worker``: run arq jobs until SIGTERM/SIGINT, surviving Redis outages.

    arq's worker stops at the first lost Redis connection. Here it is rebuilt with backoff
    while the gateway (database, HTTP client) stays up; attempts under way finish and are
    recorded in the database, and the sweeper re-enqueues whatever Redis forgot.
    """
    gateway = Gateway(settings)
    await gateway.start(run_queue=False)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    current: asyncio.Task[None] | None = None

    def stop() -> None:
        stopping.set()
        if current is not None:
            current.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    delay = 1.0
    waited = cancelled = 0
    try:
        await _wait_for_schema(gateway, stopping)
        while not stopping.is_set():
            worker = build_worker(settings, gateway=gateway)
            current = asyncio.create_task(worker.main())
            try:
                await current
                delay = 1.0
            except asyncio.CancelledError:
                if not stopping.is_set():
                    raise
            except REDIS_ERRORS as err:
                log.warning("lost Redis (%s: %s); reconnecting in %.0f s", type(err).__name__, err, delay)
            finally:
                waited, cancelled = await _drain(worker)
            if not stopping.is_set():
                waited = cancelled = 0  # those were waited for because Redis went, not at the stop
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), delay)
                delay = min(delay * 2, 30.0)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await gateway.close()
        log.info(
            "worker stopped; waited for %d running jobs%s",
            waited,
            f" ({cancelled} cancelled after {DRAIN_TIMEOUT:.0f} s)" if cancelled else "",
        )


async def _wait_for_schema(gateway: Gateway, stopping: asyncio.Event) -> None:
    """Until the database holds the core's tables, say so once and wait (a migration is run by
    another process: ``switchboard db upgrade``); every job would fail on a missing table."""
    if await gateway.migrated():
        return
    try:
        missing = await gateway.schema.core_missing()
    except Exception:  # noqa: BLE001 - unreachable: gateway.migrated() says so when it is asked again
        missing = []
    if missing:
        from core.storage.migrate import not_migrated  # Alembic, loaded only on this path

        log.error("%s. The worker starts once it is.", not_migrated(missing))
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), 1.0)
        if not stopping.is_set() and await gateway.migrated():
            log.info("the database is migrated; the worker starts")
            return


async def stop_cron(ctx: dict[str, Any]) -> None:
    """Stop the worker's cron scheduler (runs under way get ``DRAIN_TIMEOUT`` to finish)."""
    scheduler: CronScheduler | None = ctx.pop("cron", None)
    if scheduler is not None:
        await scheduler.close(DRAIN_TIMEOUT)


async def _drain(worker: Worker) -> tuple[int, int]:
    """Let the worker's running jobs finish (they record their outcome in the database).

    Returns ``(jobs waited for, jobs cancelled after DRAIN_TIMEOUT)``.
    """
    await stop_cron(worker.ctx)
    tasks = [t for t in worker.tasks.values() if not t.done()]
    pending: set[asyncio.Task[Any]] = set()
    if tasks:
        log.info("waiting for %d running jobs", len(tasks))
        _done, pending = await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT)
        for task in pending:
            task.cancel()
    with contextlib.suppress(*REDIS_ERRORS, RuntimeError):
        if worker._pool is not None:  # arq keeps no public handle on its pool
            await worker._pool.aclose()
    return len(tasks), len(pending)
