"""Driving deliveries to completion on either stack."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa

from core.gateway import Gateway
from core.storage.models import deliveries


async def delivery_statuses(gateway: Gateway) -> dict[str, int]:
    async with gateway.db.transaction() as conn:
        rows = await conn.execute(sa.select(deliveries.c.status, sa.func.count()).group_by(deliveries.c.status))
        return {r[0]: r[1] for r in rows}


async def run_arq_burst(gateway: Gateway, *, share: bool = False) -> None:
    """Run a real arq worker in this process until no job is due and none is running.

    arq's own burst mode waits for deferred jobs too (a retry an hour away would hold it),
    so the worker runs normally and is stopped once the queue has nothing due. ``share``
    runs it on ``gateway`` itself (its in-process test plugins) rather than on a new one.
    """
    import time

    from core.pipeline.worker import build_worker

    worker = build_worker(gateway.settings, gateway=gateway if share else None, poll_delay=0.01)
    task = asyncio.create_task(worker.main())
    queue = gateway.queue.queue_name  # type: ignore[attr-defined]
    idle = 0
    try:
        while idle < 3:
            await asyncio.sleep(0.05)
            if task.done():
                task.result()  # the worker failed: say why
            due = await gateway.queue.redis.zcount(queue, "-inf", int(time.time() * 1000))  # type: ignore[attr-defined]
            running = any(not t.done() for t in worker.tasks.values())
            idle = idle + 1 if due == 0 and not running else 0
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        await worker.close()


async def settle(gateway: Gateway, *, timeout: float = 20.0) -> dict[str, int]:
    """Let due deliveries run (local workers, or an arq burst worker) until none is due now."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if gateway.settings.queue.backend == "arq":
            await run_arq_burst(gateway)
        else:
            await asyncio.sleep(0.05)
        async with gateway.db.transaction() as conn:
            due = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(deliveries)
                    .where(
                        sa.or_(
                            sa.and_(
                                deliveries.c.status.in_(("pending", "queued", "retrying")),
                                deliveries.c.next_attempt_at <= _now(),
                            ),
                            deliveries.c.status == "running",
                        )
                    )
                )
            ).scalar_one()
        if due == 0:
            return await delivery_statuses(gateway)
        if loop.time() > deadline:
            raise AssertionError(f"deliveries did not settle in {timeout}s: {await delivery_statuses(gateway)}")


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@contextlib.asynccontextmanager
async def sink_gateway(stack: Any, source: str, **sections: Any) -> AsyncIterator[Gateway]:
    """A started gateway (no queue consumer) routing ``source`` to an HTTP destination
    ``sink`` that nothing answers: for tests of what is stored and claimed."""
    settings = stack.settings(routes=[{"source": source, "destinations": ["sink"]}], **sections)
    settings.plugins["http"] = {"destinations": {"sink": {"url": "http://127.0.0.1:9/"}}}
    gateway = Gateway(settings)
    await gateway.start(run_queue=False)
    try:
        yield gateway
    finally:
        await gateway.close()
