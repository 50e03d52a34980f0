"""Requeue runs a waiting delivery now, on both queues, even while its retry waits out a long backoff."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.testing import GatewayClient, settle, user_headers
from tests.support.echo import item, post_echo
from tests.support.receiver import Receiver, running_receiver

HOUR = 3600.0


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as r:
        yield r


@pytest.fixture
async def gw(example_installed: None, app_client, receiver: Receiver) -> AsyncIterator[GatewayClient]:  # type: ignore[no-untyped-def]
    # A retry waits an hour: only the requeue can bring a failed delivery back within the test.
    async with app_client(
        routes=[{"source": "echo", "destinations": ["crm"]}],
        plugins={"http": {"destinations": {"crm": {"url": receiver.url}}}},
        delivery={"max_attempts": 5, "backoff_base": HOUR, "backoff_max": HOUR, "jitter": 0},
    ) as client:
        client.headers.update(await user_headers(client.gateway, "operator"))
        yield client


async def _retrying(gw: GatewayClient, receiver: Receiver, *ids: str) -> list[str]:
    receiver.fail_with(503)
    stored = await post_echo(gw, *(item(i, sender=f"+25570000{n:04d}") for n, i in enumerate(ids)))
    delivery_ids = [m["deliveries"][0] for m in stored["messages"]]
    await settle(gw.gateway)
    for delivery_id in delivery_ids:
        assert (await gw.get(f"/api/deliveries/{delivery_id}")).json()["status"] == "retrying"
    receiver.heal()
    return delivery_ids


async def test_requeue_of_a_retrying_delivery_runs_it_now(gw: GatewayClient, receiver: Receiver) -> None:
    [delivery_id] = await _retrying(gw, receiver, "rq1")
    r = await gw.post(f"/api/deliveries/{delivery_id}/requeue")
    assert r.status_code == 200 and r.json()["status"] == "queued"
    await settle(gw.gateway)
    d = (await gw.get(f"/api/deliveries/{delivery_id}")).json()
    assert d["status"] == "delivered" and [a["outcome"] for a in d["attempts"]] == ["retry", "delivered"]


async def test_bulk_requeue_of_retrying_deliveries_runs_them_now(gw: GatewayClient, receiver: Receiver) -> None:
    await _retrying(gw, receiver, "rq2")
    r = await gw.post("/api/deliveries/requeue", json={"status": ["retrying"]})
    assert r.json() == {"requeued": 1}
    assert await settle(gw.gateway) == {"delivered": 1}


async def test_a_requeued_delivery_is_delivered_once(gw: GatewayClient, receiver: Receiver) -> None:
    [delivery_id] = await _retrying(gw, receiver, "rq3")
    failed = len(receiver.requests)
    for _ in range(3):
        await gw.post(f"/api/deliveries/{delivery_id}/requeue")
    await settle(gw.gateway)
    assert len(receiver.requests) == failed + 1


async def test_a_failed_attempt_is_one_log_line_with_id_destination_attempt_and_reason(
    gw: GatewayClient, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.WARNING, logger="switchboard.delivery")
    [delivery_id] = await _retrying(gw, receiver, "log1")
    [line] = [r.getMessage() for r in caplog.records if r.name == "switchboard.delivery"]
    assert delivery_id in line and " to crm " in line and "attempt 1" in line and "503" in line


async def test_every_answer_says_nosniff(gw: GatewayClient) -> None:
    for path in ("/healthz", "/api/messages", "/no-such-page"):
        assert (await gw.get(path)).headers["x-content-type-options"] == "nosniff"
