"""End to end: a contact writes, staff answer the conversation, Meta reports the answer read."""

from __future__ import annotations

from typing import Any

from core.testing import conversation_of, settle, user_headers
from tests.whatsapp.support import WA_ID, payload, post_webhook, status_payload


async def test_a_reply_to_a_conversation_reaches_meta_and_its_statuses_update_it(
    whatsapp_client: Any, graph: Any
) -> None:
    async with whatsapp_client() as client:
        await post_webhook(client, payload("text"))
        conversation = await conversation_of(client.gateway, WA_ID)
        operator = await user_headers(client.gateway, "operator")
        queued = await client.post(
            f"/api/conversations/{conversation.id}/messages",
            json={"text": "A counsellor will call you in ten minutes."},
            headers=operator,
        )
        assert queued.status_code == 202, queued.text
        message_id = queued.json()["message_id"]
        await settle(client.gateway)
        [body] = graph.sends()
        viewer = await user_headers(client.gateway, "viewer")
        wamid = (await _send_row(client, message_id, viewer))["send"]["wamid"]
        for status in ("sent", "delivered", "read"):
            await post_webhook(client, status_payload(status, wamid))
        details = await _send_row(client, message_id, viewer)

    assert (body["to"], body["type"], body["text"]) == (
        WA_ID,
        "text",
        {"body": "A counsellor will call you in ten minutes."},
    )
    send = details["send"]
    assert (send["status"], send["message_id"], send["recipient"]) == ("read", message_id, WA_ID)
    assert send["sent_at"] and send["delivered_at"] and send["read_at"]


async def test_a_template_reply_through_the_conversation_api(whatsapp_client: Any, graph: Any) -> None:
    template = {"name": "follow_up", "language": "en", "parameters": ["HL-1234"]}
    async with whatsapp_client() as client:
        await post_webhook(client, payload("text"))
        conversation = await conversation_of(client.gateway, WA_ID)
        queued = await client.post(
            f"/api/conversations/{conversation.id}/messages",
            json={"kind": "text", "text": "(template follow_up)", "extra": {"whatsapp": {"template": template}}},
            headers=await user_headers(client.gateway, "operator"),
        )
        assert queued.status_code == 202, queued.text
        await settle(client.gateway)
    [body] = graph.sends()
    assert body["type"] == "template"
    assert body["template"]["components"] == [{"type": "body", "parameters": [{"type": "text", "text": "HL-1234"}]}]


async def _send_row(client: Any, message_id: str, headers: dict[str, str]) -> Any:
    answer = await client.get(f"/plugins/whatsapp/messages/{message_id}", headers=headers)
    return answer.json() if answer.status_code == 200 else None
