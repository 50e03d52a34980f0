"""Phone numbers, names and message text stay out of logs, the audit log and delivery records."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from core import mask_phone
from core.testing import attempts, audit_entries
from tests.whatsapp.support import WA_ID, outbound_message, payload, post_webhook, send, status_payload

PERSONAL = (WA_ID, "Kerry Fisher", "Hello, I need help with my account")


@pytest.mark.parametrize(
    ("name", "personal"),
    [
        ("text", PERSONAL),
        ("contacts", (WA_ID, "+1 (650) 555-1234", "kfish@example.com", "1 Hacker Way", "2012-08-18", "Kerry")),
        ("location", (WA_ID, "37.483307", "-122.148981", "1 Hacker Way")),
        ("image", (WA_ID, "My receipt")),
    ],
)
async def test_captured_webhook_payloads_keep_their_shape_but_not_personal_data(
    whatsapp_client: Any, name: str, personal: tuple[str, ...]
) -> None:
    async with whatsapp_client(audit={"capture_payloads": True, "max_payload_bytes": 100_000}) as client:
        await post_webhook(client, payload(name))
        [row] = await audit_entries(client.gateway, kind="webhook")
    captured = json.dumps(row.detail, ensure_ascii=False)
    assert '"object": "whatsapp_business_account"' in captured  # the structure is there to debug
    assert '"phone_number_id": "106540352242922"' in captured
    for value in personal:
        assert value not in captured


async def test_logs_show_masked_numbers_and_no_text(
    whatsapp_client: Any, graph: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with whatsapp_client() as client:
        stop = payload("text")
        stop["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "STOP"
        await post_webhook(client, stop)
        delivery = await send(client.gateway, outbound_message("Your counsellor is Asha."))
        await post_webhook(client, status_payload("failed", "wamid.HBgLfailed"))
    assert delivery.status == "dead"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert mask_phone(WA_ID) in logged
    for value in (*PERSONAL, "Your counsellor is Asha."):
        assert value not in logged


async def test_delivery_records_do_not_keep_the_contacts_number_from_graphs_answer(
    whatsapp_client: Any, graph: Any
) -> None:
    async with whatsapp_client() as client:
        delivery = await send(client.gateway, outbound_message())
        [attempt] = await attempts(client.gateway, delivery.id)
    assert WA_ID not in json.dumps(delivery.detail)
    assert WA_ID not in json.dumps(attempt.detail) + str(attempt.response_excerpt)
