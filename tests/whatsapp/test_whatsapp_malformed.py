"""Bad payloads: a clear 4xx when nothing can be read, and never a good message lost beside a bad one."""

from __future__ import annotations

from typing import Any

import pytest

from core.testing import stored_messages
from tests.whatsapp.support import WA_ID, first_item, payload, post_webhook


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"this is not json", "(body)"),
        (b"[1, 2, 3]", "(body)"),
        (b'{"object": "page", "entry": []}', "object"),
        (b'{"entry": []}', "object"),
        (b'{"object": "whatsapp_business_account", "entry": {"id": "1"}}', "entry"),
        (b'{"object": "whatsapp_business_account"}', "entry"),
    ],
    ids=["not-json", "a-list", "another-object", "no-object", "entry-not-a-list", "no-entry"],
)
async def test_unreadable_envelope_is_a_400_naming_the_problem(whatsapp_client: Any, body: bytes, field: str) -> None:
    async with whatsapp_client() as client:
        answer = await post_webhook(client, body)
        assert await stored_messages(client.gateway) == []
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == field
    assert answer.json()["request_id"]


async def test_a_broken_message_is_kept_as_unsupported_and_its_neighbour_stored(whatsapp_client: Any) -> None:
    data = payload("text")
    good = first_item(data)
    broken = {**good, "id": "wamid.broken-text", "text": {"body": 42}}
    data["entry"][0]["changes"][0]["value"]["messages"].insert(0, broken)
    async with whatsapp_client() as client:
        answer = await post_webhook(client, data)
        rows = {r.external_id: r for r in await stored_messages(client.gateway)}
    assert answer.status_code == 200
    assert rows[good["id"]].kind == "text"
    kept = rows["wamid.broken-text"]
    assert (kept.kind, kept.sender, kept.raw) == ("unsupported", WA_ID, broken)
    assert kept.extra["whatsapp"]["error"] == "text.body must be a string"
    assert kept.extra["whatsapp"]["path"] == "entry[0].changes[0].value.messages[0]"


@pytest.mark.parametrize(
    "item",
    [
        "a string",
        {"id": "wamid.no-from", "timestamp": "1716900000", "type": "text", "text": {"body": "x"}},
        {"from": WA_ID, "id": "wamid.bad-time", "timestamp": "yesterday", "type": "text", "text": {"body": "x"}},
        {"from": WA_ID, "id": "wamid.no-body", "timestamp": "1716900000", "type": "image"},
        {"from": WA_ID, "id": "wamid.bad-lat", "timestamp": "1716900000", "type": "location", "location": {}},
    ],
    ids=["not-an-object", "no-from", "bad-timestamp", "media-without-object", "location-without-coordinates"],
)
async def test_unreadable_item_is_stored_as_unsupported_with_its_raw_payload(whatsapp_client: Any, item: Any) -> None:
    data = payload("text")
    data["entry"][0]["changes"][0]["value"]["messages"] = [item]
    async with whatsapp_client() as client:
        answer = await post_webhook(client, data)
        [row] = await stored_messages(client.gateway)
    assert answer.status_code == 200
    assert row.kind == "unsupported"
    assert row.raw == item
    assert row.extra["whatsapp"]["error"]


async def test_the_same_unreadable_item_twice_is_stored_once(whatsapp_client: Any) -> None:
    data = payload("text")
    data["entry"][0]["changes"][0]["value"]["messages"] = [{"garbage": True}]
    async with whatsapp_client() as client:
        await post_webhook(client, data)
        again = await post_webhook(client, data)
        rows = await stored_messages(client.gateway)
    assert again.json()["duplicates"] == 1
    assert len(rows) == 1


async def test_broken_entries_and_changes_do_not_lose_the_good_ones(whatsapp_client: Any) -> None:
    data = payload("text")
    data["entry"].insert(0, "not an entry")
    data["entry"].append({"id": "1", "changes": [{"field": "messages", "value": "not an object"}]})
    data["entry"][1]["changes"].append({"field": "messages", "value": {"messages": "not a list"}})
    async with whatsapp_client() as client:
        answer = await post_webhook(client, data)
        rows = await stored_messages(client.gateway)
    assert answer.status_code == 200
    assert sorted(r.kind for r in rows) == ["text", "unsupported", "unsupported", "unsupported"]


async def test_a_malformed_status_is_kept_as_unsupported(whatsapp_client: Any) -> None:
    data = payload("status_read")
    first_item(data, "statuses").pop("status")
    async with whatsapp_client() as client:
        answer = await post_webhook(client, data)
        [row] = await stored_messages(client.gateway)
    assert answer.status_code == 200
    assert row.kind == "unsupported"


async def test_an_empty_entry_list_is_fine(whatsapp_client: Any) -> None:
    async with whatsapp_client() as client:
        answer = await post_webhook(client, b'{"object":"whatsapp_business_account","entry":[]}')
    assert answer.status_code == 200
    assert answer.json()["received"] == 0


async def test_errors_meta_reports_in_a_change_are_kept_as_events(whatsapp_client: Any) -> None:
    data = payload("text")
    value = data["entry"][0]["changes"][0]["value"]
    value.pop("messages")
    value.pop("contacts")
    value["errors"] = [
        {
            "code": 131000,
            "title": "Something went wrong",
            "message": "Something went wrong",
            "error_data": {"details": "Message failed to send because of an unknown error."},
        }
    ]
    async with whatsapp_client() as client:
        await post_webhook(client, data)
        [row] = await stored_messages(client.gateway)
    assert (row.kind, row.text) == ("event", "Something went wrong")
    assert row.extra["whatsapp"]["errors"][0]["code"] == 131000


async def test_contacts_that_are_not_a_list_do_not_cost_the_messages(whatsapp_client: Any) -> None:
    data = payload("text")
    data["entry"][0]["changes"][0]["value"]["contacts"] = 5
    async with whatsapp_client() as client:
        answer = await post_webhook(client, data)
        [row] = await stored_messages(client.gateway)
    assert answer.status_code == 200
    assert (row.kind, row.sender, row.sender_name) == ("text", WA_ID, None)


@pytest.mark.parametrize("field", ["id", "from"])
async def test_ids_far_longer_than_metas_are_kept_as_unsupported(whatsapp_client: Any, field: str) -> None:
    data = payload("text")
    first_item(data)[field] = "9" * 300
    async with whatsapp_client() as client:
        answer = await post_webhook(client, data)
        [row] = await stored_messages(client.gateway)
    assert answer.status_code == 200
    assert row.kind == "unsupported"
    assert len(row.external_id) <= 255
