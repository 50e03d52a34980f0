"""Nothing acknowledged is lost: real PostgreSQL, a real Redis, real `switchboard worker` processes.

Each run sends N webhooks and checks that every one was stored and reached the receiver at
least once, while Redis, the worker or the receiver fail in between.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from core.config.settings import settings_from_dict
from core.storage.models import deliveries, messages
from core.testing import GatewayClient, gateway_client, user_headers, wait_until
from tests.conftest import Stack
from tests.support.echo import HEADERS
from tests.support.processes import RedisServer, WorkerProcess, write_config
from tests.support.receiver import Receiver, running_receiver

pytestmark = pytest.mark.stacks("postgres")  # real arq workers; test_embedded_guarantees covers SQLite
N = 40


@pytest.fixture
async def world(example_installed: None, clean_stack: Stack, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Private Redis + receiver + the app's settings as a config file a worker process can read."""
    redis = RedisServer(tmp_path)
    await redis.start()
    async with running_receiver() as receiver:
        data = {
            "server": {"data_dir": str(tmp_path / "data")},
            "database": {"url": clean_stack.database_url},
            "queue": {
                "backend": "arq",
                "redis_url": redis.url,
                "name": "guarantees",
                "sweep_interval": 1,
                "job_timeout": 4,
            },
            "delivery": {
                "backoff_base": 0.2,
                "backoff_factor": 1.5,
                "backoff_max": 1.0,
                "jitter": 0,
                "max_attempts": 30,
                # The receiver's outage pauses the destination: probes come within the test's time.
                "breaker": {"cooldown": 0.5, "max_cooldown": 1},
            },
            "auth": {"secret_key": "guarantees-secret-key-0123456789-abcdefghijkl"},
            "routes": [{"source": "echo", "destinations": ["crm"]}],
            "plugins": {"http": {"destinations": {"crm": {"url": receiver.url, "timeout": 5}}}},
        }
        config = write_config(tmp_path / "config.toml", data)
        workers: list[WorkerProcess] = []

        def worker() -> WorkerProcess:
            w = WorkerProcess(config, tmp_path / "worker.log")
            w.start()
            workers.append(w)
            return w

        yield lambda: (settings_from_dict(data, environ={}), receiver, redis, worker)
        for w in workers:
            w.stop()
        redis.kill()


async def send(client: GatewayClient, start: int, count: int) -> None:
    for i in range(start, start + count):
        body = json.dumps([{"id": f"g{i}", "from": f"+2557{i:08d}", "text": f"m{i}"}]).encode()
        r = await client.post("/webhooks/echo", content=body, headers=HEADERS)
        assert r.status_code == 200, r.text


async def wait_all_delivered(client: GatewayClient, receiver: Receiver, n: int, timeout: float = 60) -> None:
    async def all_delivered() -> bool:
        async with client.gateway.db.transaction() as conn:
            done = (
                await conn.execute(
                    sa.select(sa.func.count()).select_from(deliveries).where(deliveries.c.status == "delivered")
                )
            ).scalar_one()
        return bool(done == n)

    await wait_until(all_delivered, timeout=timeout, interval=0.2, message=f"all {n} deliveries to be delivered")
    async with client.gateway.db.transaction() as conn:
        stored = (await conn.execute(sa.select(sa.func.count()).select_from(messages))).scalar_one()
        statuses = dict(
            (await conn.execute(sa.select(deliveries.c.status, sa.func.count()).group_by(deliveries.c.status))).all()
        )  # type: ignore[arg-type]
    assert stored == n, f"{stored} of {n} messages stored"
    assert statuses == {"delivered": n}, f"deliveries: {statuses}"
    received = {b["external_id"] for b in receiver.bodies()}
    assert received == {f"g{i}" for i in range(n)}, (
        f"missing at the receiver: {sorted({f'g{i}' for i in range(n)} - received)}"
    )


async def test_redis_stopped_during_ingest_loses_nothing(world) -> None:  # type: ignore[no-untyped-def]
    settings, receiver, redis, worker = world()
    running = worker()
    async with gateway_client(settings, migrate=False) as client:
        await send(client, 0, N // 2)
        await wait_all_delivered(client, receiver, N // 2)  # the worker is up and working
        receiver.delay = 0.2
        await send(client, N // 2, 5)  # some jobs are queued or running when Redis dies
        redis.kill()
        # Requests are still acknowledged: the rows are committed; enqueueing fails quietly.
        await send(client, N // 2 + 5, N // 2 - 5)
        await asyncio.sleep(1)
        await redis.start()  # empty: every queued job is gone
        receiver.delay = 0
        await wait_all_delivered(client, receiver, N)
    assert running.alive, "the worker did not survive the Redis outage"


async def test_worker_killed_mid_delivery_loses_nothing(world) -> None:  # type: ignore[no-untyped-def]
    settings, receiver, redis, worker = world()
    receiver.delay = 0.3  # deliveries take a while, so the kill lands mid-attempt
    first = worker()
    async with gateway_client(settings, migrate=False) as client:
        await send(client, 0, N)
        await wait_until(lambda: len(receiver.requests) >= 5, timeout=30, message="five deliveries under way")
        first.kill()
        worker()
        await wait_all_delivered(client, receiver, N, timeout=90)
    # Some deliveries were cut off mid-attempt: they were attempted again (at-least-once).
    assert len(receiver.requests) >= N


async def test_receiver_unavailable_for_a_while_loses_nothing(world) -> None:  # type: ignore[no-untyped-def]
    settings, receiver, redis, worker = world()
    receiver.fail_with(503, times=N)  # the first N requests fail, with a Retry-After
    receiver.retry_after = "1"
    worker()
    async with gateway_client(settings, migrate=False) as client:
        await send(client, 0, N)
        await wait_all_delivered(client, receiver, N)
        async with client.gateway.db.transaction() as conn:
            retried = (
                await conn.execute(
                    sa.select(sa.func.count()).select_from(deliveries).where(deliveries.c.attempt_count > 1)
                )
            ).scalar_one()
        assert retried > 0


async def test_permanent_rejection_is_dead_until_requeued_after_the_fix(world) -> None:  # type: ignore[no-untyped-def]
    settings, receiver, redis, worker = world()
    receiver.fail_with(400)
    worker()
    async with gateway_client(settings, migrate=False) as client:
        await send(client, 0, N)

        async def all_dead() -> list[dict[str, Any]] | None:
            dead: list[dict[str, Any]] = (
                await client.get(
                    "/api/deliveries",
                    params={"status": "dead", "limit": 500},
                    headers=await user_headers(client.gateway, "viewer"),
                )
            ).json()["items"]
            return dead if len(dead) == N else None

        dead = await wait_until(all_dead, timeout=60, interval=0.2, message=f"all {N} deliveries to be dead")
        assert len(dead) == N and all(d["attempt_count"] == 1 for d in dead)
        receiver.heal()
        operator = await user_headers(client.gateway, "operator")
        r = await client.post("/api/deliveries/requeue", json={"status": ["dead"]}, headers=operator)
        assert r.json() == {"requeued": N}
        await wait_all_delivered(client, receiver, N)
