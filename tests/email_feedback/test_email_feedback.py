"""Inbound e-mail (a provider's signed inbound-parse post) and replies over SMTP, in one thread."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from core.testing import GatewayClient, hmac_sha256, settle, user_headers
from tests.support.smtp import Inbox, smtp_server

KEY = "key-0123456789abcdef"
FIRST_ID = "<first-0001@mail.example.net>"


@pytest.fixture
async def inbox() -> AsyncIterator[Inbox]:
    async with smtp_server() as served:
        yield served


@pytest.fixture
def email_app(app_client: Callable[..., Any], inbox: Inbox) -> Callable[..., Any]:
    def open_app(**plugin: Any) -> Any:
        mail = {"host": "127.0.0.1", "port": inbox.port, "sender": "help@gateway.example.org", "starttls": False}
        return app_client(plugins={"email": {"signing_key": KEY, **plugin}}, mail=mail)

    return open_app


def signed(*, timestamp: int | None = None, token: str | None = None, key: str = KEY) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    tok = token or secrets.token_hex(25)
    return {"timestamp": ts, "token": tok, "signature": hmac_sha256(key, f"{ts}{tok}".encode())}


def inbound(message_id: str = FIRST_ID, *, headers: str = "", **fields: str) -> dict[str, str]:
    return {
        "from": "Ann Example <Ann@example.net>",
        "to": "help@gateway.example.org",
        "subject": "Water outage",
        "text": "No water since Monday.",
        "headers": f"Message-ID: {message_id}\r\nSubject: Water outage\r\n{headers}",
        **fields,
    }


async def post(client: GatewayClient, data: dict[str, str], signature: dict[str, str] | None = None, **kw: Any) -> Any:
    return await client.post("/webhooks/email", data={**data, **(signature or signed())}, **kw)


async def test_an_inbound_email_becomes_an_email_message_with_its_attachment(email_app) -> None:  # type: ignore[no-untyped-def]
    async with email_app() as client:
        r = await post(client, inbound(), files={"attachment-1": ("meter.jpg", b"\xff\xd8jpeg", "image/jpeg")})
        assert r.status_code == 200, r.text
        viewer = await user_headers(client.gateway, "viewer")
        [item] = (await client.get("/api/messages", headers=viewer)).json()["items"]
        message = (await client.get(f"/api/messages/{item['id']}", headers=viewer)).json()
    assert message["kind"] == "email" and message["sender"] == "ann@example.net"
    assert message["text"] == "No water since Monday."
    assert message["extra"]["subject"] == "Water outage"
    assert message["extra"]["message_id"] == FIRST_ID
    assert [m["filename"] for m in message["media"]] == ["meter.jpg"]


async def test_an_email_and_its_reply_and_the_answer_to_it_share_one_conversation(email_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with email_app() as client:
        assert (await post(client, inbound())).status_code == 200
        operator = await user_headers(client.gateway, "operator")
        [conversation] = (await client.get("/api/conversations", headers=operator)).json()["items"]
        r = await client.post(
            f"/api/conversations/{conversation['id']}/messages", json={"text": "A crew is on its way."}, headers=operator
        )
        assert r.status_code in (200, 201, 202), r.text
        await settle(client.gateway)
        recipients, reply = inbox.received[-1]
        # The user answers the reply, from another address, naming only the reply.
        answer = inbound(
            "<second-0002@mail.example.net>",
            headers=f"In-Reply-To: {reply['Message-ID']}\r\nReferences: {FIRST_ID} {reply['Message-ID']}\r\n",
            **{"from": "ann.work@example.com", "subject": "Re: Water outage"},
        )
        assert (await post(client, answer)).status_code == 200
        conversations = (await client.get("/api/conversations", headers=operator)).json()["items"]
    assert recipients == ["ann@example.net"]
    assert reply["Subject"] == "Re: Water outage"
    assert reply["In-Reply-To"] == FIRST_ID
    assert reply["References"] == FIRST_ID
    assert reply.get_body(preferencelist=("plain",)).get_content().strip() == "A crew is on its way."
    assert [c["id"] for c in conversations] == [conversation["id"]]


async def test_a_second_reply_references_the_whole_thread(email_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with email_app() as client:
        await post(client, inbound())
        operator = await user_headers(client.gateway, "operator")
        [conversation] = (await client.get("/api/conversations", headers=operator)).json()["items"]
        for text in ("First answer.", "Second answer."):
            await client.post(f"/api/conversations/{conversation['id']}/messages", json={"text": text}, headers=operator)
            await settle(client.gateway)
    first, second = inbox.received[-2][1], inbox.received[-1][1]
    assert second["In-Reply-To"] == first["Message-ID"]
    assert second["References"].split() == [FIRST_ID, first["Message-ID"]]


async def test_a_bad_signature_is_refused_with_401(email_app) -> None:  # type: ignore[no-untyped-def]
    async with email_app() as client:
        r = await post(client, inbound(), signed(key="another-key-0000"))
    assert r.status_code == 401 and "signature" in r.json()["error"]


async def test_a_non_ascii_signature_is_refused_with_401_not_a_server_error(email_app) -> None:  # type: ignore[no-untyped-def]
    async with email_app() as client:
        r = await post(client, inbound(), {**signed(), "signature": "é" * 64})
    assert r.status_code == 401 and "signature" in r.json()["error"]


async def test_an_unsigned_post_is_refused_with_401(email_app) -> None:  # type: ignore[no-untyped-def]
    async with email_app() as client:
        r = await client.post("/webhooks/email", data=inbound())
    assert r.status_code == 401


async def test_a_timestamp_older_than_five_minutes_is_refused(email_app) -> None:  # type: ignore[no-untyped-def]
    async with email_app() as client:
        r = await post(client, inbound(), signed(timestamp=int(time.time()) - 301))
    assert r.status_code == 401 and "stale" in r.json()["error"]


async def test_a_token_seen_before_is_refused(email_app) -> None:  # type: ignore[no-untyped-def]
    async with email_app() as client:
        signature = signed()
        first = await post(client, inbound(), signature)
        again = await post(client, inbound("<other@mail.example.net>"), signature)
    assert first.status_code == 200
    assert again.status_code == 401 and "replayed" in again.json()["error"]


async def test_without_a_signing_key_every_post_is_refused(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        r = await post(client, inbound())
    assert r.status_code == 401


async def test_an_attachment_over_the_limit_is_a_413(email_app) -> None:  # type: ignore[no-untyped-def]
    async with email_app(max_attachment_bytes=100) as client:
        r = await post(client, inbound(), files={"attachment-1": ("big.pdf", b"x" * 101, "application/pdf")})
    assert r.status_code == 413


async def test_a_post_without_a_sender_is_a_400(email_app) -> None:  # type: ignore[no-untyped-def]
    async with email_app() as client:
        r = await post(client, {**inbound(), "from": ""})
    assert r.status_code == 400


async def test_the_same_email_posted_twice_is_stored_once(email_app) -> None:  # type: ignore[no-untyped-def]
    async with email_app() as client:
        await post(client, inbound())
        r = await post(client, inbound())
    assert r.json()["duplicates"] == 1


async def test_a_mail_server_answering_421_trips_the_breaker(clean_stack: Any, inbox: Inbox) -> None:
    # SMTP's 421 ("service not available") is the mail server failing; read as an HTTP status it
    # was "misdirected request", which the breaker did not count.
    from core.operations.destinations import get_destination
    from core.testing import drain, gateway_client

    mail = {"host": "127.0.0.1", "port": inbox.port, "sender": "help@gateway.example.org", "starttls": False}
    breaker = {"failures": 3, "cooldown": 3600, "max_cooldown": 3600}
    settings = clean_stack.settings(
        plugins={"email": {"signing_key": KEY}}, mail=mail, delivery={"backoff_base": 0.1, "jitter": 0, "breaker": breaker}
    )
    async with gateway_client(settings, migrate=False, run_queue=False) as client:
        assert (await post(client, inbound())).status_code == 200
        operator = await user_headers(client.gateway, "operator")
        [conversation] = (await client.get("/api/conversations", headers=operator)).json()["items"]
        inbox.refuse = "421 Service not available, closing transmission channel"
        path = f"/api/conversations/{conversation['id']}/messages"
        assert (await client.post(path, json={"text": "A crew is on its way."}, headers=operator)).status_code == 202
        for _ in range(3):
            await drain(client.gateway, include_future=True, rounds=1)
        state = await get_destination(client.gateway, "email")
    assert (state["state"], state["failure_streak"]) == ("open", 3)
    assert "421" in state["last_error"]
