"""Meta's verification handshake and the X-Hub-Signature-256 signature of every POST."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.testing import audit_entries, stored_messages
from tests.whatsapp.support import APP_SECRET, VERIFY_TOKEN, body_of, payload, post_webhook, signed


def handshake(token: str = VERIFY_TOKEN, mode: str = "subscribe", challenge: str = "1158201444") -> dict[str, str]:
    return {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge}


async def test_handshake_with_the_right_token_answers_the_challenge_as_plain_text(whatsapp_client: Any) -> None:
    async with whatsapp_client() as client:
        answer = await client.get("/webhooks/whatsapp", params=handshake())
    assert answer.status_code == 200
    assert answer.text == "1158201444"
    assert answer.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        handshake(token="not-the-token"),
        handshake(mode="unsubscribe"),
        handshake(challenge=""),
        {"hub.mode": "subscribe", "hub.challenge": "1158201444"},
        {},
    ],
    ids=["wrong-token", "wrong-mode", "no-challenge", "no-token", "nothing"],
)
async def test_handshake_that_does_not_match_is_refused_with_403(whatsapp_client: Any, params: dict[str, str]) -> None:
    async with whatsapp_client() as client:
        answer = await client.get("/webhooks/whatsapp", params=params)
    assert answer.status_code == 403
    assert "1158201444" not in answer.text


async def test_handshake_is_refused_while_no_verify_token_is_configured(whatsapp_client: Any) -> None:
    async with whatsapp_client(verify_token=None) as client:
        answer = await client.get("/webhooks/whatsapp", params=handshake(token=""))
    assert answer.status_code == 403


async def test_post_signed_with_the_app_secret_is_accepted(whatsapp_client: Any) -> None:
    async with whatsapp_client() as client:
        answer = await post_webhook(client, payload("text"))
    assert answer.status_code == 200, answer.text


async def test_post_without_a_signature_is_refused_and_nothing_is_stored(whatsapp_client: Any) -> None:
    body = body_of(payload("text"))
    async with whatsapp_client() as client:
        answer = await client.post("/webhooks/whatsapp", content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 401
        assert await stored_messages(client.gateway) == []


@pytest.mark.parametrize(
    "header",
    ["sha256=" + "0" * 64, "sha1=abc", "sha256=", "garbage"],
    ids=["wrong-digest", "wrong-scheme", "empty", "garbage"],
)
async def test_post_with_a_wrong_signature_is_refused_and_nothing_is_stored(whatsapp_client: Any, header: str) -> None:
    body = body_of(payload("text"))
    async with whatsapp_client() as client:
        answer = await client.post("/webhooks/whatsapp", content=body, headers={"X-Hub-Signature-256": header})
        assert answer.status_code == 401
        assert await stored_messages(client.gateway) == []


async def test_post_signed_with_another_secret_is_refused(whatsapp_client: Any) -> None:
    async with whatsapp_client() as client:
        answer = await post_webhook(client, payload("text"), secret="someone-elses-secret")
    assert answer.status_code == 401


async def test_signature_covers_the_exact_bytes_not_the_json_they_encode(whatsapp_client: Any) -> None:
    data = payload("text")
    compact = body_of(data)
    pretty = json.dumps(data, indent=2).encode()  # the same JSON, other bytes
    async with whatsapp_client() as client:
        answer = await client.post("/webhooks/whatsapp", content=pretty, headers=signed(compact))
        assert answer.status_code == 401
        # Signed as sent, the same pretty bytes are accepted.
        assert (await client.post("/webhooks/whatsapp", content=pretty, headers=signed(pretty))).status_code == 200


async def test_during_rotation_either_app_secret_is_accepted(whatsapp_client: Any) -> None:
    async with whatsapp_client(app_secret=["new-app-secret-4f1e", APP_SECRET]) as client:
        old = await post_webhook(client, payload("text"), secret=APP_SECRET)
        new = await post_webhook(client, payload("image"), secret="new-app-secret-4f1e")
        other = await post_webhook(client, payload("video"), secret="retired-secret")
    assert (old.status_code, new.status_code, other.status_code) == (200, 200, 401)


async def test_posts_are_refused_while_no_app_secret_is_configured(whatsapp_client: Any) -> None:
    async with whatsapp_client(app_secret=[]) as client:
        answer = await post_webhook(client, payload("text"))
    assert answer.status_code == 401


async def test_a_refused_post_is_audited(whatsapp_client: Any) -> None:
    async with whatsapp_client() as client:
        await post_webhook(client, payload("text"), secret="wrong")
        rows = await audit_entries(client.gateway, action="webhook_rejected")
    assert [(r.actor, r.status) for r in rows] == [("adapter:whatsapp", 401)]


@pytest.mark.parametrize(
    "header",
    ["sha256=" + "é" * 64, "sha256=²³", "sha256=\u00a0" + "0" * 63],
    ids=["accented", "superscript-digits", "no-break-space"],
)
async def test_a_non_ascii_signature_is_a_401_not_a_server_error(whatsapp_client: Any, header: str) -> None:
    body = body_of(payload("text"))
    async with whatsapp_client() as client:
        answer = await client.post(
            "/webhooks/whatsapp", content=body, headers={"X-Hub-Signature-256": header.encode()}
        )
        assert answer.status_code == 401
        assert await stored_messages(client.gateway) == []


async def test_a_non_ascii_verify_token_is_refused_with_403(whatsapp_client: Any) -> None:
    async with whatsapp_client() as client:
        answer = await client.get("/webhooks/whatsapp", params=handshake(token="vérify-tökén"))
    assert answer.status_code == 403
