"""What the circuit breaker counts, when it stops the process that trips it, and what resume releases.

Every failure that says the far side is failing counts, whichever plugin reports it and whatever
``retry_after`` it adds; once the breaker trips, the tripping process starts no attempt but the
probe (counted in requests the receiver saw, not in seconds); a resume makes the backlog due now,
retries waiting out a backoff included. Both stacks.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx
import pytest

from core.errors import DeliveryError
from core.operations.destinations import get_destination
from core.pipeline.deliveries import perform, unhealthy
from core.testing import GatewayClient, drain, gateway_client, settle, user_headers
from tests.ceemis.cases import new_case, post_case
from tests.conftest import Stack
from tests.support.echo import item, post_echo
from tests.support.receiver import Receiver, free_port, running_receiver

pytest_plugins = ["tests.test_plugins"]

HOUR = 3600.0
# A breaker that trips after three failures and, in a test, never probes by itself.
TRIPS_AT_3 = {"failures": 3, "cooldown": HOUR, "max_cooldown": HOUR}


def _raised_while_handling(cause: BaseException, **kwargs: Any) -> DeliveryError:
    try:
        try:
            raise cause
        except BaseException as err:  # what a destination does: catch the client's error, say why
            raise DeliveryError("the far side could not be reached", **kwargs) from err
    except DeliveryError as failure:
        return failure


@pytest.mark.parametrize(
    "cause",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), aiohttp.ClientConnectionError(), TimeoutError()],
    ids=["httpx-connect", "httpx-timeout", "aiohttp-connect", "timeout"],
)
def test_a_connection_error_or_timeout_counts_whatever_retry_after_or_detail_it_carries(cause: BaseException) -> None:
    assert unhealthy(_raised_while_handling(cause, retry_after=60.0))
    assert unhealthy(_raised_while_handling(cause, detail={"progress": {"done": 1}}))


def test_a_wait_the_destination_chose_does_not_count() -> None:
    assert not unhealthy(DeliveryError("waiting: the case's create is not delivered yet", retry_after=2.0))
    assert not unhealthy(DeliveryError("job still running", retry_after=5.0, detail={"job": "j1"}))


@asynccontextmanager
async def _manual(stack: Stack, **sections: Any) -> AsyncIterator[GatewayClient]:
    """An app whose deliveries run only when the test runs them (no background workers)."""
    async with gateway_client(stack.settings(**sections), migrate=False, run_queue=False) as client:
        yield client


async def test_ceemis_connection_errors_trip_the_breaker(clean_stack: Stack) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    async with _manual(
        clean_stack,
        delivery={"backoff_base": 0.1, "jitter": 0, "breaker": TRIPS_AT_3},
        routes=[{"source": "helpline", "destinations": ["ceemis"]}],
        plugins={"ceemis": {"create_url": f"{nowhere}/api/cases/create", "update_url": f"{nowhere}/api/cases/update"}},
    ) as client:
        await post_case(client, new_case())
        for _ in range(3):
            await drain(client.gateway, include_future=True, rounds=1)
        state = await get_destination(client.gateway, "ceemis")
        assert (state["state"], state["failure_streak"]) == ("open", 3)
        assert "connection to CEEMIS failed" in state["last_error"]


async def test_dhis2_connection_errors_while_sending_chunks_trip_the_breaker(clean_stack: Stack) -> None:
    from tests.fakes.dhis2_metadata import ANC_1ST, NGELEHUN, TOKEN

    instance = {"base_url": f"http://127.0.0.1:{free_port()}", "token": TOKEN}
    async with _manual(
        clean_stack,
        delivery={"backoff_base": 0.1, "jitter": 0, "breaker": TRIPS_AT_3},
        plugins={"dhis2": {"instances": {"national": instance}}},
    ) as client:
        body = {"period": "202401", "orgUnit": NGELEHUN, "dataValues": [{"dataElement": ANC_1ST, "value": "1"}]}
        headers = await user_headers(client.gateway, "operator")
        r = await client.post("/plugins/dhis2/aggregate", json=body, headers=headers)
        assert r.status_code == 202, r.text
        for _ in range(3):
            await drain(client.gateway, include_future=True, rounds=1)
        state = await get_destination(client.gateway, "dhis2:national")
        assert (state["state"], state["failure_streak"]) == ("open", 3)
        assert "ConnectError" in state["last_error"]


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_the_process_that_trips_the_breaker_starts_no_attempt_after_it(
    example_installed: None, clean_stack: Stack, concurrency: int
) -> None:
    async with (
        running_receiver() as receiver,
        _manual(
            clean_stack,
            delivery={"breaker": TRIPS_AT_3},
            routes=[{"source": "echo", "destinations": ["crm"]}],
            plugins={"http": {"destinations": {"crm": {"url": receiver.url, "concurrency": concurrency}}}},
        ) as client,
    ):
        receiver.fail_with(503)
        stored = await post_echo(client, *(item(f"trip{n}", sender=f"+2557000{n:05d}") for n in range(12)))
        ids = [uuid.UUID(m["deliveries"][0]) for m in stored["messages"]]
        # Twelve attempts queued at once in one process, as a worker holds them.
        outcomes = await asyncio.gather(*(perform(client.gateway, i, worker="test") for i in ids))

        assert (await get_destination(client.gateway, "crm"))["state"] == "open"
        # The three that tripped it, and those already in flight beside the third (one fewer than
        # the destination's concurrency); none started after the trip.
        assert 3 <= len(receiver.requests) <= 3 + concurrency - 1
        assert sum(o is not None for o in outcomes) == len(receiver.requests)


async def test_resume_makes_deliveries_waiting_out_a_backoff_due_now(
    example_installed: None, app_client: Callable[..., Any]
) -> None:
    async with (
        running_receiver() as receiver,
        app_client(
            # A retry waits an hour: only the resume can bring them back within the test.
            delivery={"backoff_base": HOUR, "backoff_max": HOUR, "jitter": 0, "breaker": {"failures": 0}},
            routes=[{"source": "echo", "destinations": ["crm"]}],
            plugins={"http": {"destinations": {"crm": {"url": receiver.url}}}},
        ) as client,
    ):
        await _retrying(client, receiver, 3)
        operator = await user_headers(client.gateway, "operator")
        assert (await client.post("/api/destinations/crm/pause", headers=operator)).status_code == 200
        assert (await client.post("/api/destinations/crm/resume", headers=operator)).status_code == 200

        assert await settle(client.gateway) == {"delivered": 3}
        assert len(receiver.accepted()) == 3


async def _retrying(client: GatewayClient, receiver: Receiver, n: int) -> None:
    receiver.fail_with(503, times=n)
    await post_echo(client, *(item(f"wait{i}", sender=f"+2557100{i:05d}") for i in range(n)))
    assert await settle(client.gateway) == {"retrying": n}
