"""A requeue always makes a new attempt: every built-in destination gets a fresh budget.

Each destination runs against its far side on loopback (the HTTP receiver, the fake Graph API,
the fake DHIS2, the fake CEEMIS, a real SMTP server) with a budget of two attempts: the far side
fails until the delivery is dead, then is fixed; an operator requeues and the delivery is
delivered. Deliveries are run by the test (``drain``), so no step waits on a clock. Both stacks.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from core import StandardMessage, requeue_delivery
from core.testing import GatewayClient, api_key_headers, attempts, delivery, drain, gateway_client, user_headers
from tests.ceemis.cases import case_status, new_case, post_case
from tests.ceemis.fake_ceemis import running_fake_ceemis
from tests.conftest import Stack
from tests.fakes.dhis2 import running_fake_dhis2
from tests.fakes.dhis2_metadata import ANC_1ST, BIRTH_STAGE, CHILD_PROGRAMME, NGELEHUN, TOKEN, WEIGHT
from tests.fakes.graph_api import running_graph
from tests.support.auth import make_user
from tests.support.echo import item, post_echo
from tests.support.receiver import running_receiver
from tests.support.smtp import smtp_server

pytest_plugins = ["tests.test_plugins"]

# Two attempts, retried at once when the test runs them; no breaker to hold them back.
MAX_ATTEMPTS = 2
BUDGET = {"max_attempts": MAX_ATTEMPTS, "backoff_base": 0.1, "jitter": 0, "breaker": {"failures": 0}}


@dataclass
class World:
    """A gateway and the far side of one destination, which the test breaks and fixes."""

    client: GatewayClient
    submit: Callable[[], Awaitable[str]]  # one delivery to the destination; its id
    fail: Callable[[], None]  # the far side fails, retryably, until fixed
    fix: Callable[[], None]


def _app(stack: Stack, **sections: Any) -> AbstractAsyncContextManager[GatewayClient]:
    return gateway_client(stack.settings(delivery=BUDGET, **sections), migrate=False, run_queue=False)


def _mail(port: int) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "sender": "switchboard@example.org", "starttls": False, "timeout": 5}


@asynccontextmanager
async def http(stack: Stack) -> AsyncIterator[World]:
    async with (
        running_receiver() as receiver,
        _app(
            stack,
            routes=[{"source": "echo", "destinations": ["crm"]}],
            plugins={"http": {"destinations": {"crm": {"url": receiver.url}}}},
        ) as client,
    ):

        async def submit() -> str:
            return str((await post_echo(client, item("budget-1")))["messages"][0]["deliveries"][0])

        yield World(client, submit, lambda: receiver.fail_with(503), receiver.heal)


@asynccontextmanager
async def whatsapp(stack: Stack) -> AsyncIterator[World]:
    from tests.whatsapp.conftest import whatsapp_settings

    async with running_graph() as graph, _app(stack, plugins={"whatsapp": whatsapp_settings(graph)}) as client:

        async def submit() -> str:
            message = StandardMessage(
                platform="whatsapp", external_id="reply-1", kind="text", direction="out", recipient="255700000001",
                text="We are here to help.",
            )  # fmt: skip
            [stored] = await client.gateway.submit([message], destinations=["whatsapp"])
            return str(stored.delivery_ids[0])

        # Meta's "something went wrong" (131000) for both attempts of the budget, then sends again.
        yield World(client, submit, lambda: graph.fail_next(131000, status=500, times=MAX_ATTEMPTS), lambda: None)


@asynccontextmanager
async def dhis2_aggregate(stack: Stack) -> AsyncIterator[World]:
    async with running_fake_dhis2() as fake, _app(stack, plugins={"dhis2": _dhis2(fake.url)}) as client:

        async def submit() -> str:
            body = {"period": "202401", "orgUnit": NGELEHUN, "dataValues": [{"dataElement": ANC_1ST, "value": "1"}]}
            r = await client.post(
                "/plugins/dhis2/aggregate", json=body, headers=await user_headers(client.gateway, "operator")
            )
            assert r.status_code == 202, r.text
            return str(r.json()["delivery_id"])

        yield World(client, submit, lambda: fake.fail_with(503, times=2, path="/dataValueSets"), lambda: None)


@asynccontextmanager
async def dhis2_tracker(stack: Stack) -> AsyncIterator[World]:
    async with running_fake_dhis2() as fake, _app(stack, plugins={"dhis2": _dhis2(fake.url)}) as client:

        async def submit() -> str:
            event = {
                "program": CHILD_PROGRAMME, "programStage": BIRTH_STAGE, "orgUnit": NGELEHUN, "occurredAt": "2024-05-01",
                "dataValues": [{"dataElement": WEIGHT, "value": "3.4"}],
            }  # fmt: skip
            headers = await api_key_headers(client.gateway, ["dhis2:tracker"])
            r = await client.post("/plugins/dhis2/tracker", json={"events": [event]}, headers=headers)
            assert r.status_code == 202, r.text
            return str(r.json()["delivery_id"])

        yield World(client, submit, lambda: fake.fail_with(503, times=2, path="/tracker"), lambda: None)


def _dhis2(url: str) -> dict[str, Any]:
    return {"instances": {"national": {"base_url": url, "token": TOKEN}}}


@asynccontextmanager
async def ceemis(stack: Stack) -> AsyncIterator[World]:
    async with running_fake_ceemis() as fake, _app(stack, **_ceemis_sections(fake)) as client:

        async def submit() -> str:
            return str((await post_case(client, new_case()))["messages"][0]["deliveries"][0])

        yield World(client, submit, lambda: fake.fail_with(503, times=None), fake.heal)


def _ceemis_sections(fake: Any) -> dict[str, Any]:
    from tests.ceemis.conftest import ceemis_config

    return {"routes": [{"source": "helpline", "destinations": ["ceemis"]}], "plugins": {"ceemis": ceemis_config(fake)}}


@asynccontextmanager
async def email(stack: Stack) -> AsyncIterator[World]:
    async with smtp_server() as inbox, _app(stack, mail=_mail(inbox.port)) as client:

        async def submit() -> str:
            message = StandardMessage(
                platform="email", external_id="reply-1", kind="text", direction="out", recipient="ann@example.net",
                conversation_key="ann@example.net", text="Thank you for writing.",
            )  # fmt: skip
            [stored] = await client.gateway.submit([message], destinations=["email"])
            return str(stored.delivery_ids[0])

        def fail() -> None:
            inbox.refuse = "451 4.3.0 Try again later"

        def fix() -> None:
            inbox.refuse = None

        yield World(client, submit, fail, fix)


@asynccontextmanager
async def webform(stack: Stack) -> AsyncIterator[World]:
    """A web form's submission, on its way to the helpline's endpoint (the web form has no
    destination of its own: its forms go out through ``[[routes]]``)."""
    from tests.webform.conftest import form_token

    async with (
        smtp_server() as inbox,
        running_receiver() as receiver,
        _app(
            stack,
            mail=_mail(inbox.port),
            auth={"api_rate_per_minute": 1_000_000},
            routes=[{"source": "webform", "destinations": ["forms"]}],
            plugins={
                "webform": {"organisations": {"acme": {"name": "Acme Helpline", "origins": [], "notify": []}}},
                "http": {"destinations": {"forms": {"url": receiver.url}}},
            },
        ) as client,
    ):

        async def submit() -> str:
            token = await form_token(client, inbox)
            r = await client.post("/webhooks/webform", json={"token": token, "message": "Thanks!", "rating": 5})
            assert r.status_code == 200, r.text
            return str(r.json()["messages"][0]["deliveries"][0])

        yield World(client, submit, lambda: receiver.fail_with(503), receiver.heal)


DESTINATIONS = [http, whatsapp, dhis2_aggregate, dhis2_tracker, ceemis, email, webform]


async def _dead_after_its_budget(world: World) -> str:
    world.fail()
    delivery_id = await world.submit()
    await drain(world.client.gateway, include_future=True)
    dead = await delivery(world.client.gateway, delivery_id)
    assert dead.status == "dead", (dead.status, dead.last_error)
    world.fix()
    return delivery_id


@pytest.mark.parametrize("opened", DESTINATIONS, ids=[d.__name__ for d in DESTINATIONS])
async def test_a_requeue_after_the_budget_is_spent_makes_a_new_attempt_that_delivers(
    example_installed: None, clean_stack: Stack, opened: Callable[[Stack], AbstractAsyncContextManager[World]]
) -> None:
    async with opened(clean_stack) as world:
        gateway = world.client.gateway
        delivery_id = await _dead_after_its_budget(world)

        r = await world.client.post(
            f"/api/deliveries/{delivery_id}/requeue", headers=await user_headers(gateway, "operator")
        )
        assert r.status_code == 200, r.text
        await drain(gateway, include_future=True)

        done = await delivery(gateway, delivery_id)
        assert done.status == "delivered", done.last_error
        assert [a.outcome for a in await attempts(gateway, delivery_id)] == ["retry", "dead", "delivered"]
        assert (done.attempt_count, done.max_attempts, done.requeues) == (3, 2 + _budget(gateway, done.destination), 1)


def _budget(gateway: Any, destination: str) -> int:
    return int(gateway.destinations[destination].max_attempts or MAX_ATTEMPTS)


async def _by_console(client: GatewayClient, delivery_id: str) -> None:
    from tests.console.conftest import PASSWORD, log_in

    await make_user(client.gateway, "operator", role="operator", password=PASSWORD)
    token = await log_in(client, "operator")
    r = await client.post(
        f"/admin/deliveries/{delivery_id}/requeue", headers={"X-CSRF-Token": token, "HX-Request": "true"}
    )
    assert r.status_code == 200, r.text


async def _by_bulk(client: GatewayClient, delivery_id: str) -> None:
    headers = await user_headers(client.gateway, "operator")
    r = await client.post("/api/deliveries/requeue", json={"status": ["dead"]}, headers=headers)
    assert r.json() == {"requeued": 1}


async def _by_plugin(client: GatewayClient, delivery_id: str) -> None:
    # What the DHIS2 plugin's dhis2gw reenqueue calls (and any plugin's route may).
    await requeue_delivery(client.gateway, uuid.UUID(delivery_id))


@pytest.mark.parametrize("requeue", [_by_bulk, _by_console, _by_plugin], ids=["bulk", "console", "plugin"])
async def test_every_requeue_gives_ceemis_a_fresh_budget_of_sends(
    example_installed: None, clean_stack: Stack, requeue: Callable[[GatewayClient, str], Awaitable[None]]
) -> None:
    async with ceemis(clean_stack) as world:
        delivery_id = await _dead_after_its_budget(world)
        assert "gave up after 2 sends" in (await delivery(world.client.gateway, delivery_id)).last_error

        await requeue(world.client, delivery_id)
        await drain(world.client.gateway, include_future=True)

        assert (await delivery(world.client.gateway, delivery_id)).status == "delivered"
        status = await case_status(world.client, "HL-1001")
        assert (status["state"], status["ceemis_id"], status["attempts"]) == ("delivered", "MGLSD000001", 1)
