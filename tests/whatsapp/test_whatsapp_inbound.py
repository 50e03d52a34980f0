"""Every Cloud API message type, as Meta sends it, becomes the right standard message."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.testing import conversation_of, stored_messages
from tests.whatsapp.support import WA_ID, first_item, payload, post_webhook

MEDIA_ID = {
    "image": "1003383421387256",
    "video": "1577246036534402",
    "audio": "2184634745233120",
    "voice": "1290233965213432",
    "document": "1167925444611236",
    "sticker": "792016296084812",
    "sticker_animated": "1468593393716032",
}
ORIGINAL = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="

# payload file → (kind, text, details expected in extra["whatsapp"])
CASES: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "text": ("text", "Hello, I need help with my account", {"type": "text"}),
    "reply": (
        "text",
        "Yes, that is right",
        {
            "context": {
                "from": "15550783881",
                "id": "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJDQjZCMzlEQUE4OTc3OEJCMTIA",
                "forwarded": True,
                "frequently_forwarded": False,
            }
        },
    ),
    "image": ("image", "My receipt", {"type": "image"}),
    "video": ("video", "Look at this", {"type": "video"}),
    "audio": ("audio", None, {"voice": False}),
    "voice": ("audio", None, {"voice": True}),
    "document": ("document", "Referral letter", {"type": "document"}),
    "sticker": ("sticker", None, {"animated": False}),
    "sticker_animated": ("sticker", None, {"animated": True}),
    "location": (
        "location",
        None,
        {
            "location": {
                "address": "1 Hacker Way, Menlo Park, CA 94025",
                "latitude": 37.483307,
                "longitude": -122.148981,
                "name": "Meta Headquarters",
                "url": "https://www.meta.com",
            }
        },
    ),
    "location_current": ("location", None, {"location": {"latitude": -6.792354, "longitude": 39.208328}}),
    "contacts": ("contacts", None, {"type": "contacts"}),
    "interactive_button_reply": (
        "interactive",
        "Talk to a counsellor",
        {"reply": {"type": "button_reply", "id": "unique-button-identifier-here", "title": "Talk to a counsellor"}},
    ),
    "interactive_list_reply": (
        "interactive",
        "Report abuse",
        {
            "reply": {
                "type": "list_reply",
                "id": "list_reply_id",
                "title": "Report abuse",
                "description": "Tell us what happened, in confidence",
            }
        },
    ),
    "button": (
        "interactive",
        "Stop promotions",
        {"reply": {"type": "button", "id": "Stop promotions", "title": "Stop promotions"}},
    ),
    "reaction": (
        "reaction",
        "\N{THUMBS UP SIGN}",
        {
            "reaction": {
                "message_id": "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJBQjE5NUU3RDlFNjIwRjk5NzAA",
                "emoji": "\N{THUMBS UP SIGN}",
                "removed": False,
            }
        },
    ),
    "reaction_removed": (
        "reaction",
        None,
        {
            "reaction": {
                "message_id": "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJBQjE5NUU3RDlFNjIwRjk5NzAA",
                "emoji": None,
                "removed": True,
            }
        },
    ),
    "order": ("order", "Please deliver before Friday", {"type": "order"}),
    "referral": ("text", "Hi! I saw your ad", {"type": "text"}),
    "system": (
        "system",
        "Kerry Fisher changed from 16505551234 to 16505559999",
        {
            "system": {
                "body": "Kerry Fisher changed from 16505551234 to 16505559999",
                "wa_id": "16505559999",
                "type": "user_changed_number",
            }
        },
    ),
    "edit": (
        "text",
        "Hello, I need help with my phone",
        {"type": "edit", "edit": {"original_message_id": ORIGINAL, "type": "text"}},
    ),
    "revoke": ("event", None, {"type": "revoke", "revoke": {"original_message_id": ORIGINAL}}),
    "unsupported": ("unsupported", None, {"type": "unsupported"}),
    "unknown_type": ("unsupported", None, {"type": "poll_vote"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
async def test_cloud_api_message_is_stored_as_a_standard_message(name: str, whatsapp_client: Any) -> None:
    kind, text, details = CASES[name]
    data = payload(name)
    item = first_item(data)
    async with whatsapp_client() as client:
        answer = await post_webhook(client, data)
        assert answer.status_code == 200, answer.text
        assert answer.json()["stored"] == 1
        [row] = await stored_messages(client.gateway)
        conversation = await conversation_of(client.gateway, WA_ID)

    assert (row.platform, row.direction, row.kind) == ("whatsapp", "in", kind)
    assert row.external_id == item["id"]
    assert (row.sender, row.sender_name) == (WA_ID, "Kerry Fisher")
    assert row.text == text
    assert row.timestamp == datetime.fromtimestamp(int(item["timestamp"]), UTC)
    assert row.raw == item  # nothing Meta sent is lost
    assert row.conversation_id == conversation.id
    extra = row.extra["whatsapp"]
    assert extra["phone_number_id"] == "106540352242922"
    assert extra["waba_id"] == "102290129340398"
    assert extra | details == extra, f"{details} not in {extra}"
    if name in MEDIA_ID:
        [medium] = row.media
        assert medium["id"] == MEDIA_ID[name]
        assert medium["mime_type"] == item[item["type"]]["mime_type"]
        assert medium["sha256"] == item[item["type"]]["sha256"]
    else:
        assert row.media == []


async def test_document_keeps_its_filename_and_caption(whatsapp_client: Any) -> None:
    async with whatsapp_client() as client:
        await post_webhook(client, payload("document"))
        [row] = await stored_messages(client.gateway)
    assert row.media == [
        {
            "id": "1167925444611236",
            "mime_type": "application/pdf",
            "sha256": "Y3VYzUEF4zRqLyfnWU0k06xvVpg6bmVgm+SAq6eeNwM=",
            "caption": "Referral letter",
            "filename": "referral-letter.pdf",
        }
    ]


async def test_contact_cards_are_kept_whole(whatsapp_client: Any) -> None:
    data = payload("contacts")
    async with whatsapp_client() as client:
        await post_webhook(client, data)
        [row] = await stored_messages(client.gateway)
    assert row.extra["whatsapp"]["contacts"] == first_item(data)["contacts"]


async def test_order_keeps_catalog_and_items(whatsapp_client: Any) -> None:
    data = payload("order")
    async with whatsapp_client() as client:
        await post_webhook(client, data)
        [row] = await stored_messages(client.gateway)
    order = row.extra["whatsapp"]["order"]
    assert order["catalog_id"] == "1544925892751279"
    assert [i["product_retailer_id"] for i in order["product_items"]] == ["sanitary-pads-pack", "soap-bar"]


async def test_ad_referral_is_kept_with_the_message(whatsapp_client: Any) -> None:
    data = payload("referral")
    async with whatsapp_client() as client:
        await post_webhook(client, data)
        [row] = await stored_messages(client.gateway)
    assert row.extra["whatsapp"]["referral"] == first_item(data)["referral"]


async def test_unsupported_message_keeps_metas_errors(whatsapp_client: Any) -> None:
    async with whatsapp_client() as client:
        await post_webhook(client, payload("unsupported"))
        [row] = await stored_messages(client.gateway)
    assert [e["code"] for e in row.extra["whatsapp"]["errors"]] == [131051]


async def test_one_post_with_several_entries_changes_and_messages_stores_them_all(whatsapp_client: Any) -> None:
    async with whatsapp_client() as client:
        answer = await post_webhook(client, payload("batch"))
        assert answer.status_code == 200, answer.text
        rows = await stored_messages(client.gateway)

    by_text = {r.text: r for r in rows if r.kind == "text"}
    assert set(by_text) == {"first", "second", "Habari, naomba msaada", "third"}
    assert by_text["Habari, naomba msaada"].sender_name == "Neema Mushi"
    assert by_text["third"].sender == "254711222333"
    # The second account's number received "third".
    assert by_text["third"].extra["whatsapp"]["phone_number_id"] == "109876543210987"
    assert by_text["third"].extra["whatsapp"]["waba_id"] == "114567891234567"
    assert [r.kind for r in rows].count("status") == 1
    # The template status update (another webhook field) is not a message.
    assert len(rows) == 5


async def test_messages_of_one_contact_share_a_conversation_keyed_by_wa_id(whatsapp_client: Any) -> None:
    async with whatsapp_client() as client:
        await post_webhook(client, payload("text"))
        await post_webhook(client, payload("image"))
        rows = await stored_messages(client.gateway)
        conversation = await conversation_of(client.gateway, WA_ID)
    assert {r.conversation_id for r in rows} == {conversation.id}
    assert conversation.platform == "whatsapp"
    assert conversation.message_count == 2


async def test_the_same_webhook_twice_is_stored_once(whatsapp_client: Any) -> None:
    async with whatsapp_client() as client:
        first = await post_webhook(client, payload("text"))
        again = await post_webhook(client, payload("text"))
        rows = await stored_messages(client.gateway)
    assert (first.json()["stored"], again.json()["duplicates"]) == (1, 1)
    assert len(rows) == 1
