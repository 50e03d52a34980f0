"""Outbound messages reach the Graph API with the JSON Meta documents, and their wamid is kept."""

from __future__ import annotations

from typing import Any

import pytest

from core.testing import stored_messages
from tests.whatsapp.support import PHONE_NUMBER_ID, WA_ID, outbound_message, send, tracking


async def test_text_reply_is_posted_to_the_business_numbers_messages_endpoint(whatsapp_client: Any, graph: Any) -> None:
    async with whatsapp_client() as client:
        message = outbound_message("We are here to help. What happened?")
        delivery = await send(client.gateway, message)
        row = await tracking(client.gateway, delivery.remote_ref)

    [request] = graph.requests
    assert (request.method, request.path) == ("POST", f"/v24.0/{PHONE_NUMBER_ID}/messages")
    assert request.headers["authorization"] == f"Bearer {graph.access_token}"
    body = request.json()
    assert body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": WA_ID,
        "type": "text",
        "text": {"body": "We are here to help. What happened?"},
        "biz_opaque_callback_data": f"sb:{delivery.idempotency_key}",
    }
    assert delivery.status == "delivered"
    assert delivery.remote_ref.startswith("wamid.")
    assert (row.status, row.message_id, row.delivery_id, row.recipient) == ("accepted", message.id, delivery.id, WA_ID)


async def test_template_with_positional_parameters(whatsapp_client: Any, graph: Any) -> None:
    spec = {
        "type": "template",
        "template": {"name": "case_update", "language": "sw", "parameters": ["Neema", "HL-1234"]},
    }
    async with whatsapp_client() as client:
        await send(client.gateway, outbound_message(None, **spec))
    [body] = graph.sends()
    assert body["type"] == "template"
    assert body["template"] == {
        "name": "case_update",
        "language": {"code": "sw"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Neema"}, {"type": "text", "text": "HL-1234"}]}
        ],
    }


async def test_template_with_named_parameters_and_with_graph_components(whatsapp_client: Any, graph: Any) -> None:
    named = {"template": {"name": "welcome", "language": "en_US", "parameters": {"first_name": "Asha"}}}
    header = [{"type": "header", "parameters": [{"type": "image", "image": {"link": "https://example.org/logo.png"}}]}]
    raw = {"template": {"name": "promo", "language": "en", "components": header}}
    async with whatsapp_client() as client:
        await send(client.gateway, outbound_message(None, **named))
        await send(client.gateway, outbound_message(None, **raw))
    first, second = graph.sends()
    assert first["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "parameter_name": "first_name", "text": "Asha"}]}
    ]
    assert second["template"]["components"] == header


async def test_media_by_id_and_by_link(whatsapp_client: Any, graph: Any) -> None:
    by_id = outbound_message(None, type="image", image={"id": "1479537139650973", "caption": "The form"})
    by_link = outbound_message(
        None, type="document", document={"link": "https://example.org/leaflet.pdf", "filename": "leaflet.pdf"}
    )
    async with whatsapp_client() as client:
        assert (await send(client.gateway, by_id)).status == "delivered"
        assert (await send(client.gateway, by_link)).status == "delivered"
    image, document = graph.sends()
    assert image["image"] == {"id": "1479537139650973", "caption": "The form"}
    assert document["document"] == {"link": "https://example.org/leaflet.pdf", "filename": "leaflet.pdf"}


async def test_media_message_without_extra_sends_its_first_media_item(whatsapp_client: Any, graph: Any) -> None:
    message = outbound_message("Here it is", kind="image")
    message.media = [{"url": "https://example.org/map.png"}]
    async with whatsapp_client() as client:
        await send(client.gateway, message)
    [body] = graph.sends()
    assert (body["type"], body["image"]) == ("image", {"link": "https://example.org/map.png", "caption": "Here it is"})


async def test_interactive_buttons_and_list_go_as_given(whatsapp_client: Any, graph: Any) -> None:
    buttons = {
        "type": "button",
        "body": {"text": "Are you safe right now?"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "safe-yes", "title": "Yes"}},
                {"type": "reply", "reply": {"id": "safe-no", "title": "No"}},
            ]
        },
    }
    rows = [{"id": "abuse", "title": "Report abuse", "description": "In confidence"}, {"id": "other", "title": "Other"}]
    listing = {
        "type": "list",
        "header": {"type": "text", "text": "Helpline"},
        "body": {"text": "How can we help?"},
        "action": {"button": "Choose", "sections": [{"title": "Topics", "rows": rows}]},
    }
    async with whatsapp_client() as client:
        await send(client.gateway, outbound_message(None, interactive=buttons))
        await send(client.gateway, outbound_message(None, interactive=listing))
    first, second = graph.sends()
    assert (first["type"], first["interactive"]) == ("interactive", buttons)
    assert second["interactive"] == listing


async def test_mark_as_read_posts_a_read_status(whatsapp_client: Any, graph: Any) -> None:
    receipt = outbound_message(None, kind="event", type="read", message_id="wamid.HBgLinbound", typing_indicator=True)
    async with whatsapp_client() as client:
        delivery = await send(client.gateway, receipt)
    assert graph.sends() == [
        {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": "wamid.HBgLinbound",
            "typing_indicator": {"type": "text"},
        }
    ]
    assert (delivery.status, delivery.remote_ref) == ("delivered", None)


async def test_reply_context_callback_data_and_sender_number_are_passed_on(whatsapp_client: Any, graph: Any) -> None:
    message = outbound_message(
        "Thank you",
        context={"message_id": "wamid.HBgLquoted"},
        biz_opaque_callback_data="case-HL-77",
        phone_number_id="109876543210987",
    )
    async with whatsapp_client() as client:
        await send(client.gateway, message)
    [request] = graph.requests
    assert request.path == "/v24.0/109876543210987/messages"
    body = request.json()
    assert (body["context"], body["biz_opaque_callback_data"]) == ({"message_id": "wamid.HBgLquoted"}, "case-HL-77")


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({"type": "template"}, "needs extra['whatsapp'].template"),
        ({"image": {"caption": "no source"}}, "exactly one of id and link"),
        ({"interactive": {"type": "button", "body": {"text": "?"}, "action": {"buttons": []}}}, "1 to 3 buttons"),
        ({"type": "carrier-pigeon"}, "extra['whatsapp'].type"),
        ({"type": "read"}, "needs extra['whatsapp'].message_id"),
    ],
    ids=["template-without-template", "media-without-source", "no-buttons", "unknown-type", "read-without-id"],
)
async def test_a_send_that_cannot_be_built_is_dead_at_once_and_never_reaches_meta(
    whatsapp_client: Any, graph: Any, spec: dict[str, Any], error: str
) -> None:
    async with whatsapp_client() as client:
        delivery = await send(client.gateway, outbound_message(None, **spec))
    assert delivery.status == "dead"
    assert error in delivery.last_error
    assert graph.requests == []


async def test_a_message_without_recipient_is_dead(whatsapp_client: Any, graph: Any) -> None:
    async with whatsapp_client() as client:
        delivery = await send(client.gateway, outbound_message("hello", to=""))
    assert delivery.status == "dead"
    assert "no recipient" in delivery.last_error


async def test_sends_fail_visibly_until_the_token_and_number_are_configured(whatsapp_client: Any, graph: Any) -> None:
    async with whatsapp_client(access_token=None) as client:
        delivery = await send(client.gateway, outbound_message())
    assert delivery.status == "dead"
    assert "access_token and phone_number_id must be set" in delivery.last_error
    assert graph.requests == []


async def test_status_messages_are_not_part_of_any_conversation(whatsapp_client: Any, graph: Any) -> None:
    from tests.whatsapp.support import post_webhook, status_payload

    async with whatsapp_client() as client:
        delivery = await send(client.gateway, outbound_message())
        await post_webhook(client, status_payload("delivered", delivery.remote_ref))
        [status] = await stored_messages(client.gateway, kind="status")
    assert (status.conversation_id, status.sender, status.recipient) == (None, None, WA_ID)
