"""Webhook → stored message → delivery to a real HTTP receiver, on both stacks."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import sqlalchemy as sa

from core.storage.models import messages
from core.testing import settle
from tests.support.receiver import running_receiver


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


async def test_the_default_body_carries_the_conversation_id_to_reply_to(
    example_installed: None,
    app_client,
    receiver,  # type: ignore[no-untyped-def]
) -> None:
    async with app_client(
        routes=[{"source": "echo", "destinations": ["crm"]}],
        plugins={"http": {"destinations": {"crm": {"url": receiver.url}}}},
    ) as client:
        body, headers = echo([{"id": "c1", "from": "+255700000002", "text": "hi"}])
        assert (await client.post("/webhooks/echo", content=body, headers=headers)).status_code == 200
        assert await settle(client.gateway) == {"delivered": 1}
        async with client.gateway.db.transaction() as conn:
            conversation_id = (await conn.execute(sa.select(messages.c.conversation_id))).scalar_one()
        [req] = receiver.requests
        assert conversation_id is not None and req.json()["conversation_id"] == str(conversation_id)


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


async def test_nul_characters_in_a_webhook_and_in_an_answer_are_stored_as_replacement_characters(
    example_installed: None,
    app_client,
    receiver,  # type: ignore[no-untyped-def]
) -> None:
    """PostgreSQL's text cannot hold U+0000: the message is stored all the same, the NUL as
    U+FFFD on both stacks, and a destination's binary error body does not stop its attempt
    being recorded."""
    import sqlalchemy as sa

    from core.storage.models import delivery_attempts, messages

    async with app_client(
        routes=[{"source": "echo", "destinations": ["crm"]}],
        plugins={"http": {"destinations": {"crm": {"url": receiver.url, "max_attempts": 1}}}},
    ) as client:
        receiver.fail_with(400, body=b"bad\x00input")
        body, headers = echo([{"id": "nul-1", "from": "+255700000001", "text": "a\u0000b"}])
        r = await client.post("/webhooks/echo", content=body, headers=headers)
        assert r.status_code == 200, r.text
        assert await settle(client.gateway) == {"dead": 1}
        async with client.gateway.db.transaction() as conn:
            text = (await conn.execute(sa.select(messages.c.text))).scalar_one()
            answer = (await conn.execute(sa.select(delivery_attempts.c.response_excerpt))).scalar_one()
        assert text == "a\ufffdb"
        assert "bad\ufffdinput" in answer


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

    from core.storage.models import conversations, messages

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


async def test_two_processes_storing_the_same_messages_store_each_once(clean_stack) -> None:  # type: ignore[no-untyped-def]
    """Two gateways (as two `serve` processes) on one database race on the same messages and
    the same new conversation: the loser of each race looks up again; nothing is doubled."""
    import asyncio

    import sqlalchemy as sa

    from core import StandardMessage
    from core.gateway import Gateway
    from core.storage.models import conversations, deliveries, messages

    settings = clean_stack.settings(routes=[{"source": "race", "destinations": ["sink"]}])
    settings.plugins["http"] = {"destinations": {"sink": {"url": "http://127.0.0.1:9/"}}}
    one, two = Gateway(settings), Gateway(settings)
    for g in (one, two):
        await g.start(run_queue=False)
    try:

        def batch(start: int) -> list[StandardMessage]:
            return [
                StandardMessage(platform="race", external_id=f"r-{i}", kind="text", sender="+255700000009", text=str(i))
                for i in range(start, start + 20)
            ]

        rounds = [g.ingest.submit(batch(start)) for start in range(0, 60, 10) for g in (one, two)]
        results = await asyncio.gather(*rounds)
        fresh = {s.message_id for stored in results for s in stored if not s.duplicate}
        assert len(fresh) == 70
        async with one.db.transaction() as conn:
            count = (await conn.execute(sa.select(sa.func.count()).select_from(messages))).scalar_one()
            per_message = (
                (
                    await conn.execute(
                        sa.select(sa.func.count()).select_from(deliveries).group_by(deliveries.c.message_id)
                    )
                )
                .scalars()
                .all()
            )
            convs = (await conn.execute(sa.select(conversations.c.status, conversations.c.message_count))).all()
        assert count == 70
        assert per_message == [1] * 70
        assert [(c.status, c.message_count) for c in convs] == [("open", 70)]
    finally:
        for g in (one, two):
            await g.close()


async def test_a_failed_write_stores_nothing(clean_stack) -> None:  # type: ignore[no-untyped-def]
    """Messages, their deliveries and the audit row go in together or not at all."""
    import sqlalchemy as sa

    from core import StandardMessage
    from core.gateway import Gateway
    from core.storage.models import conversations, deliveries, messages

    settings = clean_stack.settings(routes=[{"source": "atomic", "destinations": ["sink"]}])
    settings.plugins["http"] = {"destinations": {"sink": {"url": "http://127.0.0.1:9/"}}}
    gateway = Gateway(settings)
    await gateway.start(run_queue=False)
    try:
        item = StandardMessage(platform="atomic", external_id="a-1", kind="text", sender="+255700000010", text="x")
        # The audit row is written last, in the same write: make it fail there.
        bad_audit = gateway.audit.row("webhook", action="received", status=200) | {"kind": None}  # NOT NULL
        with pytest.raises(Exception):  # noqa: B017, PT011 - the database's own error, which differs by dialect
            await gateway.ingest.submit([item], audit=bad_audit)
        async with gateway.db.transaction() as conn:
            for table in (messages, deliveries, conversations):
                assert (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one() == 0
    finally:
        await gateway.close()
