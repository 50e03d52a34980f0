"""Submitting a form with the form token: routed like any message, files inline, CORS per organisation."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from core.testing import settle, user_headers
from tests.support.receiver import running_receiver
from tests.webform.conftest import ORG, ORIGIN, form_token

PDF = b"%PDF-1.4\n" + b"x" * 2000


def _routes() -> list[dict[str, Any]]:
    return [{"source": "webform", "destinations": ["complaints"]}]


async def test_a_verified_users_form_with_an_attachment_reaches_the_receiver(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with running_receiver() as receiver:
        http = {"destinations": {"complaints": {"url": receiver.url}}}
        async with webform_app(http=http, routes=_routes()) as client:
            token = await form_token(client, inbox)
            r = await client.post(
                "/webhooks/webform",
                data={"name": "Ann", "message": "The clinic was closed.", "category": "service"},
                files={"evidence": ("letter.pdf", PDF, "application/pdf")},
                headers={"Authorization": f"Bearer {token}", "Origin": ORIGIN},
            )
            assert r.status_code == 200, r.text
            assert r.headers["access-control-allow-origin"] == ORIGIN
            await settle(client.gateway)
        [received] = receiver.requests
    message = received.json()
    assert message["kind"] == "form" and message["platform"] == "webform"
    assert message["sender"] == "ann@example.net" and message["text"] == "The clinic was closed."
    assert message["extra"]["organisation"] == ORG
    assert message["extra"]["fields"] == {"name": "Ann", "message": "The clinic was closed.", "category": "service"}
    [attachment] = message["extra"]["attachments"]
    assert base64.b64decode(attachment["content"]) == PDF
    assert message["media"] == [
        {
            "id": hashlib.sha256(PDF).hexdigest(),
            "sha256": hashlib.sha256(PDF).hexdigest(),
            "mime_type": "application/pdf",
            "filename": "letter.pdf",
        }
    ]


async def test_a_json_form_with_the_token_in_a_field_is_accepted(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        token = await form_token(client, inbox)
        r = await client.post("/webhooks/webform", json={"token": token, "message": "Thanks!", "rating": 5})
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 1


async def test_a_form_without_a_token_is_refused_with_401(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        r = await client.post("/webhooks/webform", json={"message": "hi"})
    assert r.status_code == 401


async def test_a_user_access_token_does_not_open_the_form(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        headers = await user_headers(client.gateway, "admin")
        r = await client.post("/webhooks/webform", json={"message": "hi"}, headers=headers)
    assert r.status_code == 401


async def test_an_attachment_over_the_size_limit_is_a_413(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app(max_attachment_bytes=1000) as client:
        token = await form_token(client, inbox)
        r = await client.post(
            "/webhooks/webform",
            data={"message": "see file"},
            files={"evidence": ("letter.pdf", PDF, "application/pdf")},
            headers={"Authorization": f"Bearer {token}"},
        )
        listed = await client.get("/api/messages", headers=await user_headers(client.gateway, "viewer"))
    assert r.status_code == 413, r.text
    assert listed.json()["items"] == []


async def test_an_attachment_of_a_type_not_accepted_is_a_415(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        token = await form_token(client, inbox)
        r = await client.post(
            "/webhooks/webform",
            data={"message": "see file"},
            files={"evidence": ("run.exe", b"MZ\x90\x00", "application/x-msdownload")},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.status_code == 415, r.text


async def test_a_form_from_an_origin_the_organisation_does_not_allow_is_a_403(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        token = await form_token(client, inbox)
        r = await client.post(
            "/webhooks/webform",
            json={"message": "hi"},
            headers={"Authorization": f"Bearer {token}", "Origin": "https://evil.example.com"},
        )
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers


async def test_the_webhooks_preflight_answers_only_allowed_origins(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        good = await client.options("/webhooks/webform", headers={"Origin": ORIGIN})
        bad = await client.options("/webhooks/webform", headers={"Origin": "https://evil.example.com"})
        other = await client.options("/webhooks/whatsapp", headers={"Origin": ORIGIN})
    assert good.status_code == 204 and good.headers["access-control-allow-origin"] == ORIGIN
    assert "Authorization" in good.headers["access-control-allow-headers"]
    assert bad.status_code == 403 and "access-control-allow-origin" not in bad.headers
    assert other.status_code == 405  # an adapter without a preflight


async def test_notify_addresses_get_an_email_about_each_submission(app_client, inbox) -> None:  # type: ignore[no-untyped-def]
    from tests.webform.conftest import mail_config

    org = {"name": "Acme Helpline", "origins": [ORIGIN], "notify": ["desk@acme.example"]}
    plugins = {"webform": {"organisations": {ORG: org}}}
    async with app_client(plugins=plugins, mail=mail_config(inbox.port)) as client:
        token = await form_token(client, inbox)
        r = await client.post(
            "/webhooks/webform",
            data={"message": "Broken tap"},
            files={"photo": ("tap.png", b"\x89PNG....", "image/png")},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
    recipients, message = inbox.received[-1]
    assert recipients == ["desk@acme.example"]
    assert message["Subject"] == "New form submission for Acme Helpline"
    assert message["Reply-To"] == "ann@example.net"
    assert "Broken tap" in message.get_body(preferencelist=("plain",)).get_content()
    assert [a.get_filename() for a in message.iter_attachments()] == ["tap.png"]
