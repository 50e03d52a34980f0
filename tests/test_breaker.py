"""Each destination's circuit breaker: paused after failures, probed, resumed; nothing lost or doubled.

On both stacks: SQLite with the in-process queue, PostgreSQL with an arq worker (a gateway of its
own, so two processes' views of one breaker meet in the database).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import sqlalchemy as sa

from core.config.settings import BreakerSettings
from core.storage.models import audit_log, deliveries, delivery_attempts
from core.testing import GatewayClient, stop_worker, user_headers
from tests.support.echo import post_echo
from tests.support.receiver import Receiver, running_receiver

pytest_plugins = ["tests.test_plugins"]

FAST_RETRIES = {"backoff_base": 0.2, "backoff_factor": 1.0, "backoff_max": 0.5, "jitter": 0, "max_attempts": 100}


async def until(condition: Callable[[], Any], timeout: float = 30.0) -> None:
    """Wait until ``await condition()`` is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def consuming(client: GatewayClient) -> AsyncIterator[None]:
    """Deliveries are run: by the app's own local workers, or by an arq worker beside it."""
    if client.gateway.settings.queue.backend != "arq":
        yield
        return
    from core.gateway import Gateway
    from core.pipeline.worker import build_worker

    gateway = Gateway(client.gateway.settings)  # the worker's own: another view of the breakers
    await gateway.start(run_queue=False)
    worker = build_worker(client.gateway.settings, gateway=gateway, poll_delay=0.01)
    task = asyncio.create_task(worker.main())
    try:
        yield
    finally:
        await stop_worker(worker, task)
        await gateway.close()


@contextlib.asynccontextmanager
async def world(app_client: Callable[..., Any], receiver: Receiver, **breaker: Any) -> AsyncIterator[GatewayClient]:
    async with app_client(
        queue={"sweep_interval": 1, "job_timeout": 10},
        delivery={**FAST_RETRIES, "breaker": {"failures": 3, "cooldown": 0.5, "max_cooldown": 2, **breaker}},
        routes=[{"source": "echo", "destinations": ["crm"]}],
        plugins={"http": {"destinations": {"crm": {"url": receiver.url, "timeout": 5}}}},
    ) as client:
        async with consuming(client):
            yield client


async def destination(client: GatewayClient, name: str = "crm") -> dict[str, Any]:
    r = await client.get("/api/destinations", headers=await user_headers(client.gateway, "viewer"))
    assert r.status_code == 200, r.text
    return next(d for d in r.json()["items"] if d["name"] == name)


async def audit_actions(client: GatewayClient) -> list[tuple[str, Any]]:
    async with client.gateway.db.transaction() as conn:
        rows = await conn.execute(
            sa.select(audit_log.c.action, audit_log.c.at)
            .where(audit_log.c.action.like("destination_%"))
            .order_by(audit_log.c.id)
        )
        return [(r.action, r.at) for r in rows]


async def statuses(client: GatewayClient) -> dict[str, int]:
    async with client.gateway.db.transaction() as conn:
        rows = await conn.execute(sa.select(deliveries.c.status, sa.func.count()).group_by(deliveries.c.status))
        return {r[0]: r[1] for r in rows}


async def send(client: GatewayClient, n: int, prefix: str = "b") -> set[str]:
    ids = {f"{prefix}{i}" for i in range(n)}
    for external_id in sorted(ids):
        await post_echo(client, {"id": external_id, "from": "+255700000001", "text": external_id})
    return ids


def delivered_once(receiver: Receiver, ids: set[str]) -> None:
    accepted = Counter(r.json()["external_id"] for r in receiver.requests if r.status == 200)
    assert set(accepted) == ids, f"missing: {sorted(ids - set(accepted))}"
    assert [k for k, v in accepted.items() if v > 1] == [], "delivered more than once"


async def test_failing_destination_is_paused_probed_and_resumed_with_every_message_delivered_once(
    example_installed: None, app_client: Callable[..., Any]
) -> None:
    async with running_receiver() as receiver, world(app_client, receiver) as client:
        receiver.fail_with(503)
        ids = await send(client, 20)

        async def probes_failed(n: int) -> bool:
            return sum(a == "destination_probe_failed" for a, _ in await audit_actions(client)) >= n

        await until(lambda: probes_failed(3))
        state = await destination(client)
        assert state["state"] in ("open", "half_open")
        assert state["failure_streak"] >= 3 and state["paused_since"] and "503" in state["last_error"]
        # Once every process has seen the pause, only probes reach the destination: one per cool-down.
        failed_at = [at for a, at in await audit_actions(client) if a == "destination_probe_failed"]
        async with client.gateway.db.transaction() as conn:
            between = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(delivery_attempts)
                    .where(delivery_attempts.c.started_at > failed_at[1], delivery_attempts.c.started_at < failed_at[2])
                )
            ).scalar_one()
        assert between == 1
        assert (await statuses(client)).get("dead", 0) == 0

        receiver.heal()

        async def all_delivered() -> bool:
            return await statuses(client) == {"delivered": len(ids)}

        await until(all_delivered)
        delivered_once(receiver, ids)
        async with client.gateway.db.transaction() as conn:
            wins = (
                await conn.execute(
                    sa.select(delivery_attempts.c.delivery_id, sa.func.count())
                    .where(delivery_attempts.c.outcome == "delivered")
                    .group_by(delivery_attempts.c.delivery_id)
                )
            ).all()
        assert len(wins) == len(ids) and {n for _, n in wins} == {1}
        actions = [a for a, _ in await audit_actions(client)]
        assert actions[0] == "destination_paused" and actions[-1] == "destination_resumed"
        assert "destination_probe" in actions
        state = await destination(client)
        assert state["state"] == "closed" and state["failure_streak"] == 0 and state["last_success_at"]
        assert state["paused_since"] is None


async def test_a_refused_item_does_not_count_against_the_destination(
    example_installed: None, app_client: Callable[..., Any]
) -> None:
    async with running_receiver() as receiver, world(app_client, receiver) as client:
        receiver.fail_with(422)
        await send(client, 6)

        async def all_dead() -> bool:
            return await statuses(client) == {"dead": 6}

        await until(all_dead)
        state = await destination(client)
        assert state["state"] == "closed" and state["failure_streak"] == 0


async def test_failures_zero_switches_the_breaker_off(example_installed: None, app_client: Callable[..., Any]) -> None:
    async with running_receiver() as receiver, world(app_client, receiver, failures=0) as client:
        receiver.fail_with(503, times=12)
        ids = await send(client, 3)

        async def all_delivered() -> bool:
            return await statuses(client) == {"delivered": 3}

        await until(all_delivered)
        delivered_once(receiver, ids)
        assert [a for a, _ in await audit_actions(client)] == []


async def test_paused_by_hand_its_deliveries_wait_unattempted_until_resumed(
    example_installed: None, app_client: Callable[..., Any]
) -> None:
    async with running_receiver() as receiver, world(app_client, receiver) as client:
        operator = await user_headers(client.gateway, "operator")
        r = await client.post("/api/destinations/crm/pause", headers=operator)
        assert r.status_code == 200 and r.json()["state"] == "paused"
        assert r.json()["paused_by"].startswith("user:")
        assert (await client.post("/api/destinations/crm/pause", headers=operator)).status_code == 409
        await client.gateway.deliveries.breaker.refresh()
        ids = await send(client, 5)
        # The sweeper has run (at start-up, then each second) and found nothing it may hand out.
        await client.gateway.deliveries.breaker.refresh()
        from core.pipeline.sweeper import sweep

        assert await sweep(client.gateway, grace=0) == 0
        async with client.gateway.db.transaction() as conn:
            attempts = (await conn.execute(sa.select(sa.func.sum(deliveries.c.attempt_count)))).scalar_one()
        assert attempts == 0 and receiver.requests == []

        r = await client.post("/api/destinations/crm/resume", headers=operator)
        assert r.status_code == 200 and r.json()["state"] == "closed"

        async def all_delivered() -> bool:
            return await statuses(client) == {"delivered": 5}

        await until(all_delivered)
        delivered_once(receiver, ids)
        assert (await client.post("/api/destinations/crm/resume", headers=operator)).status_code == 409
        actions = [a for a, _ in await audit_actions(client)]
        assert actions == ["destination_paused", "destination_resumed"]


async def test_pausing_an_unknown_destination_is_not_found(
    example_installed: None, app_client: Callable[..., Any]
) -> None:
    async with running_receiver() as receiver, world(app_client, receiver) as client:
        operator = await user_headers(client.gateway, "operator")
        assert (await client.post("/api/destinations/nowhere/pause", headers=operator)).status_code == 404


def test_breaker_settings_per_destination_override_the_defaults() -> None:
    settings = BreakerSettings.model_validate({"failures": 4, "destinations": {"slow": {"cooldown": 120}}})
    assert settings.policy("slow").model_dump() == {"failures": 4, "cooldown": 120.0, "max_cooldown": 900.0}
    assert settings.policy("other").cooldown == 30.0


@pytest.mark.parametrize("bad", [{"failures": -1}, {"cooldown": 0}, {"destinations": {"x": {"typo": 1}}}])
def test_breaker_settings_refuse_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        BreakerSettings.model_validate(bad)
