"""The optional acknowledgement of a new conversation, and read receipts."""

from __future__ import annotations

from typing import Any

from core.testing import conversation_of, settle, stored_messages
from tests.whatsapp.support import WA_ID, payload, post_webhook

ACK = {"enabled": True, "text": "Hello {name}, we have your message. Your reference is {reference}."}


async def outbound(gateway: Any) -> list[Any]:
    return await stored_messages(gateway, direction="out")


async def test_the_first_message_of_a_conversation_is_acknowledged(whatsapp_client: Any, graph: Any) -> None:
    async with whatsapp_client(acknowledgement=ACK) as client:
        await post_webhook(client, payload("text"))
        [ack] = await outbound(client.gateway)
        await settle(client.gateway)
        conversation = await conversation_of(client.gateway, WA_ID)
    reference = conversation.id.hex[-8:].upper()
    [body] = graph.sends()
    assert body["to"] == WA_ID
    assert body["text"] == {"body": f"Hello Kerry Fisher, we have your message. Your reference is {reference}."}
    assert (ack.recipient, ack.conversation_id) == (WA_ID, conversation.id)


async def test_later_messages_of_the_same_conversation_are_not_acknowledged(whatsapp_client: Any, graph: Any) -> None:
    async with whatsapp_client(acknowledgement=ACK) as client:
        await post_webhook(client, payload("text"))
        await post_webhook(client, payload("image"))
        await post_webhook(client, payload("reply"))
        await settle(client.gateway)
        acks = await outbound(client.gateway)
    assert len(acks) == 1
    assert len(graph.sends()) == 1


async def test_the_acknowledgement_can_be_an_approved_template(whatsapp_client: Any, graph: Any) -> None:
    template = {"name": "helpline_ack", "language": "sw", "parameters": ["{name}", "{reference}"]}
    async with whatsapp_client(acknowledgement={"enabled": True, "template": template}) as client:
        await post_webhook(client, payload("text"))
        await settle(client.gateway)
    [body] = graph.sends()
    assert body["type"] == "template"
    assert body["template"]["name"] == "helpline_ack"
    assert body["template"]["language"] == {"code": "sw"}
    [name, reference] = body["template"]["components"][0]["parameters"]
    assert name == {"type": "text", "text": "Kerry Fisher"}
    assert len(reference["text"]) == 8


async def test_there_is_no_acknowledgement_unless_enabled(whatsapp_client: Any, graph: Any) -> None:
    async with whatsapp_client() as client:
        await post_webhook(client, payload("text"))
        await settle(client.gateway)
        assert await outbound(client.gateway) == []
    assert graph.requests == []


async def test_statuses_open_no_conversation_and_get_no_acknowledgement(whatsapp_client: Any, graph: Any) -> None:
    from tests.whatsapp.support import status_payload

    async with whatsapp_client(acknowledgement=ACK) as client:
        await post_webhook(client, status_payload("delivered", "wamid.HBgLnobody"))
        await settle(client.gateway)
        assert await outbound(client.gateway) == []
        assert await conversation_of(client.gateway, WA_ID) is None


async def test_mark_read_sends_a_read_receipt_for_each_inbound_message(whatsapp_client: Any, graph: Any) -> None:
    data = payload("text")
    wamid = data["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    async with whatsapp_client(mark_read=True) as client:
        await post_webhook(client, data)
        await settle(client.gateway)
    assert graph.sends() == [{"messaging_product": "whatsapp", "status": "read", "message_id": wamid}]
