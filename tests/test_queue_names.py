"""Deployments sharing one Redis database: every key carries ``[queue] name``, no tick is stolen."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core import StandardMessage
from core.gateway import Gateway
from core.pipeline.queue.arq_backend import ArqQueue
from core.testing import wait_until
from tests.conftest import Stack
from tests.test_cron_schedule import T0, Probe, SteppedClock, ran_recently, scheduling

pytestmark = pytest.mark.stacks("postgres")


def deployment(stack: Stack, name: str, **sections: Any) -> dict[str, Any]:
    return {"queue": {"name": f"{stack.queue['name']}-{name}"}, **sections}


async def test_two_deployments_on_one_redis_each_run_every_one_of_their_ticks(clean_stack: Stack) -> None:
    probes = {"east": Probe(("rollcall", 60)), "west": Probe(("rollcall", 60))}
    gateways = {
        name: Gateway(clean_stack.settings(**deployment(clean_stack, name)), [("probe", probe)])
        for name, probe in probes.items()
    }
    clocks = {name: SteppedClock(T0) for name in probes}
    await ran_recently(gateways["east"], "rollcall", T0 - timedelta(seconds=10))
    ticks = [datetime(2026, 12, 6, 3, m, tzinfo=UTC) for m in (10, 11, 12)]
    async with scheduling(gateways["east"], clocks["east"]), scheduling(gateways["west"], clocks["west"]):
        for tick in ticks:
            await asyncio.gather(*(clock.set(tick) for clock in clocks.values()))
            for name, probe in probes.items():
                await wait_until(lambda p=probe, t=tick: t in p.ticks["rollcall"], message=f"{name}'s tick {tick}")
    assert probes["east"].ticks["rollcall"] == ticks
    assert probes["west"].ticks["rollcall"] == ticks


async def test_every_job_the_gateway_queues_is_keyed_under_its_queue_name(clean_stack: Stack) -> None:
    settings = clean_stack.settings(
        **deployment(clean_stack, "north", plugins={"http": {"destinations": {"far": {"url": "http://127.0.0.1:9/"}}}})
    )
    gateway = Gateway(settings)
    await gateway.start(run_queue=False)
    queue = gateway.queue
    assert isinstance(queue, ArqQueue)
    try:
        message = StandardMessage(platform="north", external_id="n-1", kind="text", text="hello")
        await gateway.submit([message], destinations=["far"])
        await queue.enqueue_job("run_cron_job", "sweep")
        await queue.enqueue_job("run_cron_job", "sweep", job_id="by-id")

        async def queued() -> list[str] | None:
            ids = [i.decode() for i in await queue.redis.zrange(queue.queue_name, 0, -1)]
            return ids if len(ids) == 3 else None

        ids = await wait_until(queued, message="the delivery and the two jobs to be queued")
        # arq keeps a job under arq:job:<id>: an id that starts with the queue name keys it there.
        assert all(i.startswith(f"{settings.queue.name}:") for i in ids), ids
        assert [await queue.redis.exists(f"arq:job:{i}") for i in ids] == [1, 1, 1]
        assert f"{settings.queue.name}:by-id" in ids
        assert await queue.claim_tick("sweep", T0, ttl=60)
        assert await queue.redis.exists(f"{settings.queue.name}:cron:sweep:{int(T0.timestamp() * 1000)}")
    finally:
        jobs = await queue.redis.zrange(queue.queue_name, 0, -1)
        if jobs:
            await queue.redis.delete(*[b"arq:job:" + j for j in jobs])
        await gateway.close()
