"""CFCBE's WhatsApp webhook URL ([plugins.whatsapp.cfcbe]): Meta's own requests, at the old path."""

from __future__ import annotations

from core.testing import after_commit
from tests.whatsapp.support import VERIFY_TOKEN, body_of, payload, signed

CFCBE = {"cfcbe": {"enabled": True}}
PATHS = ("/api/webhook/whatsapp/", "/api/webhook/whatsapp")


async def test_metas_handshake_is_answered_at_cfcbes_path_with_and_without_the_slash(whatsapp_client) -> None:  # type: ignore[no-untyped-def]
    async with whatsapp_client(**CFCBE) as client:
        for path in PATHS:
            query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
            r = await client.get(path, params=query)
            assert r.status_code == 200 and r.text == "1158201444", (path, r.text)


async def test_a_signed_message_at_cfcbes_path_is_stored_once_like_at_webhooks(whatsapp_client) -> None:  # type: ignore[no-untyped-def]
    async with whatsapp_client(**CFCBE, auth={"api_rate_per_minute": 1}) as client:
        body = body_of(payload("text"))
        answers = []
        for path in PATHS:  # Meta's retry at the other spelling is a duplicate
            r = await client.post(path, content=body, headers=signed(body))
            assert r.status_code == 200, r.text
            await after_commit(client.gateway)
            answers.append(r.json())
        assert [(a["stored"], a["duplicates"]) for a in answers] == [(1, 0), (0, 1)]
        # A webhook is outside the API rate limit (1 a minute here), as /webhooks/… is.
        again = await client.post(PATHS[0], content=body, headers=signed(body))
        assert again.status_code == 200, again.text


async def test_a_wrong_signature_at_cfcbes_path_is_refused(whatsapp_client) -> None:  # type: ignore[no-untyped-def]
    async with whatsapp_client(**CFCBE) as client:
        body = body_of(payload("text"))
        r = await client.post(PATHS[0], content=body, headers=signed(body, "not-the-app-secret-at-all"))
        assert r.status_code == 401


async def test_cfcbes_path_is_absent_unless_enabled(whatsapp_client) -> None:  # type: ignore[no-untyped-def]
    async with whatsapp_client() as client:
        assert (await client.get(PATHS[0], params={"hub.mode": "subscribe"})).status_code == 404
