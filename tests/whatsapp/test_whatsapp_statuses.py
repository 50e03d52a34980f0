"""Meta's statuses are stored and applied, by wamid, to the message they report on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.testing import stored_messages
from tests.whatsapp.support import WA_ID, first_item, outbound_message, post_webhook, send, status_payload, tracking


def at(data: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(first_item(data, "statuses")["timestamp"]), UTC)


@pytest.mark.parametrize("name", ["sent", "delivered", "read", "played", "failed"])
async def test_each_status_is_stored_as_a_status_message(whatsapp_client: Any, name: str) -> None:
    data = status_payload(name, "wamid.HBgLstatus")
    item = first_item(data, "statuses")
    async with whatsapp_client() as client:
        answer = await post_webhook(client, data)
        [row] = await stored_messages(client.gateway)
    assert answer.status_code == 200
    assert (row.kind, row.external_id, row.recipient) == ("status", f"status:wamid.HBgLstatus:{name}", WA_ID)
    assert row.timestamp == at(data)
    assert row.raw == item
    status = row.extra["whatsapp"]["status"]
    assert (status["id"], status["status"], status["recipient_id"]) == ("wamid.HBgLstatus", name, WA_ID)


async def test_sent_status_keeps_conversation_pricing_and_callback_data(whatsapp_client: Any) -> None:
    data = status_payload("sent", "wamid.HBgLsent")
    item = first_item(data, "statuses")
    async with whatsapp_client() as client:
        await post_webhook(client, data)
        [row] = await stored_messages(client.gateway)
        tracked = await tracking(client.gateway, "wamid.HBgLsent")
    status = row.extra["whatsapp"]["status"]
    assert status["conversation"] == item["conversation"]
    assert status["pricing"] == {
        "billable": False,
        "pricing_model": "PMP",
        "category": "service",
        "type": "free_customer_service",
    }
    assert status["biz_opaque_callback_data"] == "case-HL-1234"
    assert (tracked.conversation, tracked.pricing, tracked.callback_data) == (
        item["conversation"],
        item["pricing"],
        "case-HL-1234",
    )


async def test_failed_status_keeps_its_errors(whatsapp_client: Any) -> None:
    data = status_payload("failed", "wamid.HBgLfailed")
    async with whatsapp_client() as client:
        await post_webhook(client, data)
        [row] = await stored_messages(client.gateway)
        tracked = await tracking(client.gateway, "wamid.HBgLfailed")
    assert [e["code"] for e in row.extra["whatsapp"]["status"]["errors"]] == [131047]
    assert tracked.status == "failed"
    assert tracked.errors == first_item(data, "statuses")["errors"]


async def test_the_same_status_twice_is_stored_once(whatsapp_client: Any) -> None:
    data = status_payload("delivered", "wamid.HBgLtwice")
    async with whatsapp_client() as client:
        await post_webhook(client, data)
        again = await post_webhook(client, data)
        rows = await stored_messages(client.gateway)
    assert again.json()["duplicates"] == 1
    assert len(rows) == 1


async def test_a_reply_is_updated_by_its_later_delivered_and_read_statuses(whatsapp_client: Any) -> None:
    async with whatsapp_client() as client:
        message = outbound_message("Someone will call you within the hour.")
        delivery = await send(client.gateway, message)
        wamid = delivery.remote_ref
        sent, delivered, read = (status_payload(n, wamid) for n in ("sent", "delivered", "read"))
        for data in (sent, delivered):
            assert (await post_webhook(client, data)).status_code == 200
        after_delivered = await tracking(client.gateway, wamid)
        await post_webhook(client, read)
        after_read = await tracking(client.gateway, wamid)
    assert after_delivered.status == "delivered"
    assert (after_read.status, after_read.message_id) == ("read", message.id)
    assert (after_read.sent_at, after_read.delivered_at, after_read.read_at) == (at(sent), at(delivered), at(read))


async def test_a_late_delivered_never_takes_read_back(whatsapp_client: Any) -> None:
    async with whatsapp_client() as client:
        delivery = await send(client.gateway, outbound_message())
        wamid = delivery.remote_ref
        await post_webhook(client, status_payload("read", wamid))
        late = status_payload("delivered", wamid)
        await post_webhook(client, late)
        row = await tracking(client.gateway, wamid)
    assert row.status == "read"
    assert row.delivered_at == at(late)  # recorded all the same


async def test_failed_is_final_and_keeps_its_errors_when_other_statuses_follow(whatsapp_client: Any) -> None:
    async with whatsapp_client() as client:
        delivery = await send(client.gateway, outbound_message())
        wamid = delivery.remote_ref
        failed = status_payload("failed", wamid)
        await post_webhook(client, failed)
        await post_webhook(client, status_payload("sent", wamid))
        await post_webhook(client, status_payload("delivered", wamid))
        row = await tracking(client.gateway, wamid)
    assert row.status == "failed"
    assert row.errors == first_item(failed, "statuses")["errors"]


async def test_a_status_that_arrives_before_the_send_is_recorded_is_kept(whatsapp_client: Any, graph: Any) -> None:
    graph.next_wamids.append("wamid.HBgLEARLY")
    async with whatsapp_client() as client:
        early = status_payload("delivered", "wamid.HBgLEARLY")
        await post_webhook(client, early)
        message = outbound_message()
        delivery = await send(client.gateway, message)
        row = await tracking(client.gateway, "wamid.HBgLEARLY")
    assert delivery.remote_ref == "wamid.HBgLEARLY"
    assert (row.status, row.delivered_at, row.message_id, row.delivery_id) == (
        "delivered",
        at(early),
        message.id,
        delivery.id,
    )
    assert row.accepted_at is not None


async def test_statuses_in_one_post_for_several_messages_are_all_applied(whatsapp_client: Any) -> None:
    async with whatsapp_client() as client:
        one = (await send(client.gateway, outbound_message("one"))).remote_ref
        two = (await send(client.gateway, outbound_message("two"))).remote_ref
        data = status_payload("delivered", one)
        data["entry"][0]["changes"][0]["value"]["statuses"].append(first_item(status_payload("read", two), "statuses"))
        await post_webhook(client, data)
        statuses = [(await tracking(client.gateway, w)).status for w in (one, two)]
    assert statuses == ["delivered", "read"]
