"""The form user's login: a code by e-mail (read at a real SMTP server), exchanged for a form token."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.serving import free_port
from tests.webform.conftest import ORG, code_in, form_token, mail_config, request_code, verify


async def test_a_code_is_emailed_and_exchanged_for_a_form_token(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        r = await request_code(client)
        assert r.status_code == 202, r.text
        recipients, message = inbox.received[0]
        assert recipients == ["ann@example.net"]
        assert "Acme Helpline" in message.get_body(preferencelist=("plain",)).get_content()
        r = await verify(client, code_in(inbox))
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "Bearer" and r.json()["organisation"] == ORG


async def test_the_form_token_is_not_accepted_as_a_user_token(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        token = await form_token(client, inbox)
        r = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        messages = await client.get("/api/messages", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert messages.status_code == 401


async def test_a_code_is_used_only_once(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        await request_code(client)
        code = code_in(inbox)
        assert (await verify(client, code)).status_code == 200
        r = await verify(client, code)
    assert r.status_code == 404


async def test_missing_fields_are_a_400_naming_them(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        r = await client.post("/plugins/webform/auth/request-verification", json={"email": "ann@example.net"})
        v = await client.post("/plugins/webform/auth/verify-otp", json={"email": "ann@example.net", "organisation": ORG})
    assert r.status_code == 400 and "organisation" in r.json()["error"]
    assert v.status_code == 400 and "code" in v.json()["error"]


async def test_an_invalid_email_is_a_400(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        r = await request_code(client, email="not-an-address")
    assert r.status_code == 400
    assert inbox.received == []


async def test_an_unknown_organisation_is_a_404(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        r = await request_code(client, org="nobody")
        v = await verify(client, "123456", org="nobody")
    assert r.status_code == 404 and v.status_code == 404
    assert inbox.received == []


async def test_an_smtp_server_that_cannot_be_reached_is_a_502_and_counts_no_send(app_client) -> None:  # type: ignore[no-untyped-def]
    plugins = {"webform": {"organisations": {ORG: {"name": "Acme", "origins": []}}, "max_sends": 1}}
    async with app_client(plugins=plugins, mail=mail_config(free_port())) as client:
        r = await request_code(client)
        again = await request_code(client)
    assert r.status_code == 502
    assert "could not be sent" in r.json()["error"]
    assert again.status_code == 502  # not 429: the failed send was not counted


async def test_an_smtp_refusal_is_a_502(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    inbox.refuse = "550 mailbox unavailable"
    async with webform_app() as client:
        r = await request_code(client)
    assert r.status_code == 502


async def test_a_wrong_code_is_a_400(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        await request_code(client)
        wrong = "000000" if code_in(inbox) != "000000" else "111111"
        r = await verify(client, wrong)
    assert r.status_code == 400 and r.json()["error"] == "wrong code"


async def test_an_expired_code_is_a_400_saying_so(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from plugins.webform.models import verifications

    async with webform_app() as client:
        await request_code(client)
        async with client.gateway.db.transaction() as conn:  # the ten minutes have passed
            await conn.execute(verifications.update().values(expires_at=sa.func.current_timestamp()))
        r = await verify(client, code_in(inbox))
    assert r.status_code == 400 and "expired" in r.json()["error"]


async def test_verifying_without_a_requested_code_is_a_404(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        r = await verify(client, "123456")
    assert r.status_code == 404


async def test_after_five_wrong_codes_even_the_right_one_is_refused_with_429(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        await request_code(client)
        code = code_in(inbox)
        wrong = "000000" if code != "000000" else "111111"
        statuses = [(await verify(client, wrong)).status_code for _ in range(5)]
        r = await verify(client, code)
    assert statuses == [400] * 5
    assert r.status_code == 429


async def test_a_fourth_code_within_ten_minutes_is_refused_with_429(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        statuses = [(await request_code(client)).status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 429]
    assert len(inbox.received) == 3


async def test_ten_concurrent_sends_to_one_address_mail_exactly_max_sends_codes(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app(ip_requests=100) as client:
        answers = await asyncio.gather(*(request_code(client) for _ in range(10)))
        statuses = sorted(r.status_code for r in answers)
        later = await request_code(client)
    assert statuses == [202] * 3 + [429] * 7
    assert later.status_code == 429
    assert len(inbox.received) == 3


async def test_a_new_code_replaces_the_pending_one(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        await request_code(client)
        first = code_in(inbox)
        await request_code(client)
        second = code_in(inbox)
        stale = await verify(client, first) if first != second else None
        r = await verify(client, second)
    assert stale is None or stale.status_code == 400
    assert r.status_code == 200


async def test_the_auth_routes_are_limited_per_client_address(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app(ip_requests=2) as client:
        statuses = [(await verify(client, "123456")).status_code for _ in range(3)]
    assert statuses == [404, 404, 429]


async def test_a_preflight_from_an_allowed_origin_is_granted(webform_app) -> None:  # type: ignore[no-untyped-def]
    headers = {"Origin": "https://forms.example.org", "Access-Control-Request-Method": "POST"}
    async with webform_app() as client:
        r = await client.options("/plugins/webform/auth/request-verification", headers=headers)
        post = await request_code_from(client, "https://forms.example.org")
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "https://forms.example.org"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert post.headers["access-control-allow-origin"] == "https://forms.example.org"


async def test_a_preflight_from_another_origin_is_refused_without_cors_headers(webform_app) -> None:  # type: ignore[no-untyped-def]
    headers = {"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"}
    async with webform_app() as client:
        r = await client.options("/plugins/webform/auth/verify-otp", headers=headers)
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers


async def request_code_from(client: Any, origin: str) -> Any:
    return await client.post(
        "/plugins/webform/auth/request-verification",
        json={"email": "ann@example.net", "organisation": ORG},
        headers={"Origin": origin},
    )
