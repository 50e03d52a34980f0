"""The arq worker (``switchboard worker``): runs deliveries, plugin jobs and cron jobs."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from arq import Retry, cron
from arq.worker import Worker

from core.deliveries import BUSY_DEFER, DestinationBusy, perform
from core.gateway import Gateway
from core.jobs import CronJob, job_name
from core.settings import Settings
from core.sweeper import core_cron_jobs

log = logging.getLogger("switchboard.worker")


async def deliver(ctx: dict[str, Any], delivery_id: str) -> str | None:
    """One delivery attempt (job id ``deliver:<id>:<attempt>``)."""
    import uuid

    try:
        outcome = await perform(ctx["gateway"], uuid.UUID(delivery_id), worker=ctx["worker_name"])
    except DestinationBusy as err:
        raise Retry(defer=BUSY_DEFER) from err
    return outcome.status if outcome else None


def build_worker(settings: Settings, *, burst: bool = False, poll_delay: float = 0.5, **overrides: Any) -> Worker:
    """An arq ``Worker`` for these settings, with the gateway built in ``on_startup``."""
    gateway = Gateway(settings)
    from core.queue.arq_backend import ArqQueue

    assert isinstance(gateway.queue, ArqQueue), 'switchboard worker needs [queue] backend = "arq"'
    plugin_jobs = [j for js in gateway.plugins.collect("switchboard_jobs", gateway=gateway).values() for j in js]
    functions: list[Any] = [deliver] + [j for j in plugin_jobs if not isinstance(j, CronJob)]
    crons = core_cron_jobs(gateway) + [j for j in plugin_jobs if isinstance(j, CronJob)]

    async def on_startup(ctx: dict[str, Any]) -> None:
        await gateway.start(run_queue=False)
        ctx["gateway"] = gateway
        ctx["worker_name"] = f"{socket.gethostname()}:{os.getpid()}"
        from core.sweeper import sweep

        await sweep(gateway, grace=0)

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await gateway.close()

    def wrap(job: CronJob) -> Any:
        async def run(ctx: dict[str, Any]) -> None:
            await job.function(ctx)

        run.__qualname__ = f"cron:{job.name}"
        return cron(run, name=f"cron:{job.name}", run_at_startup=job.run_at_startup, **job.arq_schedule())

    log.info("worker functions: %s", ", ".join(job_name(f) for f in functions))
    return Worker(
        functions=functions,
        cron_jobs=[wrap(j) for j in crons],
        redis_settings=gateway.queue.redis_settings,
        queue_name=gateway.queue.queue_name,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        job_timeout=settings.queue.job_timeout,
        max_jobs=settings.queue.local_workers * 4,
        # The database counts attempts; arq only re-runs jobs it lost (worker killed).
        max_tries=1000,
        keep_result=0,
        burst=burst,
        poll_delay=poll_delay,
        handle_signals=not burst,
        **overrides,
    )
