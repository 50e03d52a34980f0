"""Replying from a conversation's transcript (core.operations.replies): the reply and its delivery show in it."""

from __future__ import annotations

import re

from core.testing import GatewayClient, stored_messages
from tests.console.conftest import log_in
from tests.console.test_message_kinds import whatsapp_gw as whatsapp_gw  # the fixture
from tests.whatsapp.support import payload, post_webhook


async def conversation(gw: GatewayClient) -> str:
    assert (await post_webhook(gw, payload("text"))).status_code == 200
    [row] = await stored_messages(gw.gateway)
    return str(row.conversation_id)


async def test_an_operator_replies_and_the_transcript_shows_the_reply_with_its_delivery(whatsapp_gw: GatewayClient) -> None:
    conversation_id = await conversation(whatsapp_gw)
    token = await log_in(whatsapp_gw, "operator")
    page = f"/admin/conversations/{conversation_id}"
    r = await whatsapp_gw.post(f"{page}/reply", data={"csrf_token": token, "text": "We are here to help."})
    assert r.status_code == 303 and r.headers["location"] == page
    transcript = await whatsapp_gw.get(page)
    assert "Reply queued." in transcript.text
    bubble = re.search(r'<li class="bubble out">(.*?)</li>', transcript.text, re.S)
    assert bubble and "We are here to help." in bubble.group(1)
    assert re.search(r'href="/admin/deliveries/[0-9a-f-]{36}">to whatsapp</a>', bubble.group(1))


async def test_an_empty_reply_is_refused_beside_its_box(whatsapp_gw: GatewayClient) -> None:
    conversation_id = await conversation(whatsapp_gw)
    token = await log_in(whatsapp_gw, "operator")
    r = await whatsapp_gw.post(f"/admin/conversations/{conversation_id}/reply", data={"csrf_token": token, "text": "  "})
    assert r.status_code == 422 and 'id="error-text"' in r.text
    assert len(await stored_messages(whatsapp_gw.gateway)) == 1


async def test_a_viewer_has_no_reply_box_and_is_refused(whatsapp_gw: GatewayClient) -> None:
    conversation_id = await conversation(whatsapp_gw)
    token = await log_in(whatsapp_gw, "viewer")
    assert 'id="reply"' not in (await whatsapp_gw.get(f"/admin/conversations/{conversation_id}")).text
    r = await whatsapp_gw.post(f"/admin/conversations/{conversation_id}/reply", data={"csrf_token": token, "text": "hi"})
    assert r.status_code == 403
