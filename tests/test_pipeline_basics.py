"""Webhook → stored message → delivery to a real HTTP receiver, on both stacks."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from tests.support.pipeline import settle
from tests.support.receiver import running_receiver

pytest_plugins = ["tests.test_plugins"]


@pytest.fixture
async def receiver():  # type: ignore[no-untyped-def]
    async with running_receiver() as r:
        yield r


def echo(items: list[dict[str, str]]) -> tuple[bytes, dict[str, str]]:
    return json.dumps(items).encode(), {"x-echo-token": "example-token"}


async def test_webhook_is_stored_and_delivered_with_signature_and_idempotency_key(
    example_installed: None,
    app_client,
    receiver,  # type: ignore[no-untyped-def]
) -> None:
    async with app_client(
        routes=[{"source": "echo", "destinations": ["crm"]}],
        plugins={"http": {"destinations": {"crm": {"url": receiver.url, "secret": "s3cret"}}}},
    ) as client:
        body, headers = echo([{"id": "m1", "from": "+255700000001", "text": "hello"}])
        r = await client.post("/webhooks/echo", content=body, headers=headers)
        assert r.status_code == 200, r.text
        assert r.headers["x-request-id"]
        statuses = await settle(client.gateway)
        assert statuses == {"delivered": 1}
        [req] = receiver.requests
        sent = req.json()
        assert sent["text"] == "hello" and sent["sender"] == "+255700000001" and sent["platform"] == "echo"
        expected = hmac.new(b"s3cret", req.body, hashlib.sha256).hexdigest()
        assert req.headers["x-switchboard-signature"] == f"sha256={expected}"
        assert req.headers["idempotency-key"]


async def test_same_webhook_twice_is_stored_and_delivered_once(
    example_installed: None,
    app_client,
    receiver,  # type: ignore[no-untyped-def]
) -> None:
    async with app_client(
        routes=[{"source": "echo", "destinations": ["crm"]}],
        plugins={"http": {"destinations": {"crm": {"url": receiver.url}}}},
    ) as client:
        body, headers = echo([{"id": "dup-1", "from": "a", "text": "x"}])
        first = await client.post("/webhooks/echo", content=body, headers=headers)
        second = await client.post("/webhooks/echo", content=body, headers=headers)
        assert first.json()["stored"] == 1
        assert second.json() | {"messages": None} == {"received": 1, "stored": 0, "duplicates": 1, "messages": None}
        assert await settle(client.gateway) == {"delivered": 1}
        assert len(receiver.requests) == 1


async def test_adapter_default_authentication_takes_a_platform_scoped_api_key(
    example_installed: None,
    client,  # type: ignore[no-untyped-def]
) -> None:
    from core import Adapter
    from core.testing import api_key_headers

    class Plain(Adapter):
        name = "plain"

    request = type("R", (), {"state": type("S", (), {"principal": None})()})()
    import pytest as _pytest

    from core.errors import AuthenticationError

    with _pytest.raises(AuthenticationError):
        await Plain().authenticate(request, b"")  # type: ignore[arg-type]
    good = await api_key_headers(client.gateway, ["webhooks:plain"])
    other = await api_key_headers(client.gateway, ["webhooks:elsewhere"])
    assert (await client.get("/healthz", headers=good)).status_code == 200
    principal_good = await client.gateway.auth.authenticate(
        {"type": "http", "headers": [(b"x-api-key", good["X-API-Key"].encode())]}
    )
    principal_other = await client.gateway.auth.authenticate(
        {"type": "http", "headers": [(b"x-api-key", other["X-API-Key"].encode())]}
    )
    assert principal_good.has_scope("webhooks:plain")
    assert not principal_other.has_scope("webhooks:plain")


async def test_concurrent_duplicates_and_first_messages_race_safely(
    example_installed: None,
    app_client,  # type: ignore[no-untyped-def]
) -> None:
    import asyncio

    import sqlalchemy as sa

    from core.models import conversations, messages

    async with app_client() as client:
        same, headers = echo([{"id": "race-dup", "from": "+255799999999", "text": "again"}])
        firsts = [echo([{"id": f"race-{i}", "from": "+255799999999", "text": str(i)}])[0] for i in range(30)]
        posts = [client.post("/webhooks/echo", content=same, headers=headers) for _ in range(30)]
        posts += [client.post("/webhooks/echo", content=body, headers=headers) for body in firsts]
        answers = await asyncio.gather(*posts)
        assert all(r.status_code == 200 for r in answers)
        assert sum(r.json()["stored"] for r in answers) == 31
        async with client.gateway.db.transaction() as conn:
            stored = (await conn.execute(sa.select(sa.func.count()).select_from(messages))).scalar_one()
            convs = (await conn.execute(sa.select(conversations.c.status, conversations.c.message_count))).all()
        assert stored == 31
        assert [(c.status, c.message_count) for c in convs] == [("open", 31)]
