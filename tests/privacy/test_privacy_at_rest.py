"""With a data key, what the web form, CEEMIS and devices store of a person is unreadable at rest
(database dump and data directory), and clear through the API; participant filters still find it."""

from __future__ import annotations

import gc
import uuid
import warnings
from collections.abc import Callable
from typing import Any

from core.testing import settle, user_headers
from tests.ceemis.cases import case_status, new_case, post_case
from tests.ceemis.conftest import ceemis, ceemis_config  # noqa: F401 - the fixture
from tests.ceemis.fake_ceemis import FakeCEEMIS
from tests.conftest import Stack
from tests.devices.device_steps import reading, register, upload
from tests.privacy.support import KEY, leaked, stored_bytes
from tests.support.receiver import running_receiver
from tests.support.smtp import Inbox, smtp_server
from tests.webform.conftest import ORG, ORIGIN, form_token, mail_config

CAPTURE = {"capture_payloads": True, "max_payload_bytes": 100_000, "redact_keys": []}


def _tag() -> str:
    return uuid.uuid4().hex[:12]


async def test_a_web_form_and_its_delivery_are_sealed_at_rest(
    clean_stack: Stack, app_client: Callable[..., Any]
) -> None:
    async with smtp_server() as inbox:
        await _web_form(clean_stack, app_client, inbox)
    # aiosmtpd's server thread leaves its closed connections' stream writers to the garbage
    # collector, whose ResourceWarning would otherwise land in whichever test runs next.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


async def _web_form(clean_stack: Stack, app_client: Callable[..., Any], inbox: Inbox) -> None:
    tag = _tag()
    email, text, name = f"ann.{tag}@example.net", f"The clinic {tag} was closed.", f"Ann {tag}"
    async with running_receiver() as receiver:
        async with app_client(
            plugins={
                "webform": {"organisations": {ORG: {"name": "Acme", "origins": [ORIGIN], "notify": []}}},
                "http": {"destinations": {"complaints": {"url": receiver.url}}},
            },
            routes=[{"source": "webform", "destinations": ["complaints"]}],
            mail=mail_config(inbox.port),
            privacy={"key": KEY},
            audit=CAPTURE,
        ) as client:
            token = await form_token(client, inbox, email)
            r = await client.post(
                "/webhooks/webform",
                data={"name": name, "message": text},
                headers={"Authorization": f"Bearer {token}", "Origin": ORIGIN},
            )
            assert r.status_code == 200, r.text
            await settle(client.gateway)
            assert leaked(await stored_bytes(clean_stack), [email, text, name]) == []

            headers = await user_headers(client.gateway)
            r = await client.get("/api/messages", params={"participant": email}, headers=headers)
            [message] = r.json()["items"]
            assert (message["sender"], message["text"]) == (email, text)
            r = await client.get(f"/api/messages/{message['id']}", headers=headers)
            [delivery] = r.json()["deliveries"]
            assert delivery["status"] == "delivered"
        [received] = receiver.requests
    # The destination got the message in clear.
    assert received.json()["sender"] == email and received.json()["text"] == text


async def test_a_ceemis_case_is_sealed_at_rest(
    clean_stack: Stack,
    app_client: Callable[..., Any],
    ceemis: FakeCEEMIS,  # noqa: F811
) -> None:
    tag = _tag()
    phone, narrative, client_name = (
        f"+2567{tag[:8].translate(str.maketrans('abcdef', '123456'))}",
        f"Narrative {tag}",
        f"Aisha {tag}",
    )
    case = new_case(f"HL-{tag}", src_address=phone, narrative=narrative)
    case["clients_case"][0].update(fname=client_name, phone=phone)
    async with app_client(
        plugins={"ceemis": ceemis_config(ceemis)},
        routes=[{"source": "helpline", "destinations": ["ceemis"]}],
        delivery={"backoff_base": 0.1, "jitter": 0, "breaker": {"failures": 0}},
        privacy={"key": KEY},
        audit=CAPTURE,
    ) as client:
        await post_case(client, case)
        await settle(client.gateway)
        assert leaked(await stored_bytes(clean_stack), [phone, narrative, client_name]) == []
        status = await case_status(client, f"HL-{tag}")
        assert status["state"] == "delivered"
        headers = await user_headers(client.gateway)
        r = await client.get("/api/messages", params={"participant": phone}, headers=headers)
        [message] = r.json()["items"]
        assert message["sender"] == phone and narrative in (message["text"] or str(message))
    [sent] = ceemis.answered("create")
    assert narrative in str(sent.form)  # CEEMIS got the case in clear


async def test_device_readings_are_sealed_at_rest_and_found_by_subject(
    clean_stack: Stack, app_client: Callable[..., Any]
) -> None:
    subject = f"P-{_tag()}"
    async with app_client(privacy={"key": KEY}, audit=CAPTURE) as client:
        _, key = await register(client, f"SN-{_tag()}", subject=subject)
        answer = await upload(client, key, [reading("r-1", value=91), reading("r-2", value=97)])
        assert answer["accepted"] == 2
        await settle(client.gateway)
        assert leaked(await stored_bytes(clean_stack), [subject]) == []
        headers = await user_headers(client.gateway)
        r = await client.get("/plugins/devices/readings", params={"subject": subject}, headers=headers)
        assert r.status_code == 200, r.text
        assert sorted(item["value"] for item in r.json()["items"]) == [91, 97]
        assert {item["subject"] for item in r.json()["items"]} == {subject}
        r = await client.get(f"/plugins/devices/subjects/{subject}/summary", headers=headers)
        assert r.status_code == 200, r.text
        assert "spo2" in str(r.json())
        r = await client.get("/api/messages", params={"platform": "devices"}, headers=headers)
        assert {m["extra"]["subject"] for m in r.json()["items"]} == {subject}
