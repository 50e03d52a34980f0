"""Opt-out keywords: STOP confirms and stops every later send, visibly; START restarts them."""

from __future__ import annotations

from typing import Any

import pytest

from core.testing import settle, stored_messages, user_headers
from tests.whatsapp.support import WA_ID, first_item, outbound_message, payload, post_webhook, send

CONFIRMATION = "You will no longer receive messages from us. Reply START to receive them again."


def saying(text: str) -> dict[str, Any]:
    data = payload("text")
    item = first_item(data)
    item["text"]["body"] = text
    item["id"] = f"wamid.HBgL{abs(hash(text))}"
    return data


async def contact_state(client: Any) -> dict[str, Any]:
    headers = await user_headers(client.gateway, "viewer")
    answer = await client.get(f"/plugins/whatsapp/contacts/{WA_ID}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def replies(gateway: Any) -> list[Any]:
    return await stored_messages(gateway, direction="out")


async def test_stop_opts_the_contact_out_and_confirms_it(whatsapp_client: Any, graph: Any) -> None:
    async with whatsapp_client() as client:
        await post_webhook(client, saying("STOP"))
        statuses = await settle(client.gateway)
        state = await contact_state(client)
    assert statuses == {"delivered": 1}
    assert [b["text"]["body"] for b in graph.sends()] == [CONFIRMATION]
    assert state["opted_out"] is True
    assert state["keyword"] == "STOP"


async def test_sends_to_an_opted_out_contact_are_refused_permanently_and_visibly(
    whatsapp_client: Any, graph: Any
) -> None:
    async with whatsapp_client() as client:
        await post_webhook(client, saying("unsubscribe"))
        await settle(client.gateway)
        delivery = await send(client.gateway, outbound_message("Your case has been updated."))
    assert delivery.status == "dead"
    assert "opted out" in delivery.last_error
    assert delivery.detail["opted_out"] is True
    assert len(graph.sends()) == 1  # the confirmation only


async def test_start_opts_back_in_and_sends_flow_again(whatsapp_client: Any, graph: Any) -> None:
    async with whatsapp_client() as client:
        await post_webhook(client, saying("STOP"))
        await post_webhook(client, saying("Start"))
        await settle(client.gateway)
        delivery = await send(client.gateway, outbound_message("Welcome back."))
        state = await contact_state(client)
    assert delivery.status == "delivered"
    assert state["opted_out"] is False
    assert state["opted_in_at"] is not None
    bodies = [b["text"]["body"] for b in graph.sends()]
    # The two confirmations are separate deliveries, sent concurrently: either may go first.
    assert sorted(bodies[:2]) == sorted(
        [CONFIRMATION, "Welcome back: you will receive our messages again. Reply STOP to stop them."]
    )
    assert bodies[2:] == ["Welcome back."]


@pytest.mark.parametrize("text", ["stop", " Stop. ", "STOP!", "unsubscribe \N{OCTAGONAL SIGN}"])
async def test_keywords_match_whatever_the_case_and_punctuation(whatsapp_client: Any, text: str) -> None:
    async with whatsapp_client() as client:
        await post_webhook(client, saying(text))
        state = await contact_state(client)
    assert state["opted_out"] is True


@pytest.mark.parametrize("text", ["please don't stop", "STOP IT", "stopping by later"])
async def test_a_keyword_inside_a_sentence_is_not_an_opt_out(whatsapp_client: Any, text: str) -> None:
    async with whatsapp_client() as client:
        await post_webhook(client, saying(text))
        await settle(client.gateway)
        state = await contact_state(client)
        assert await replies(client.gateway) == []
    assert state["opted_out"] is False


async def test_keywords_and_confirmation_are_configurable(whatsapp_client: Any, graph: Any) -> None:
    opt_out = {"keywords": ["ACHA"], "opt_in_keywords": ["ANZA"], "confirmation": "Umejiondoa."}
    async with whatsapp_client(opt_out=opt_out) as client:
        await post_webhook(client, saying("STOP"))
        await post_webhook(client, saying("acha"))
        await settle(client.gateway)
        state = await contact_state(client)
    assert state["keyword"] == "acha"
    assert [b["text"]["body"] for b in graph.sends()] == ["Umejiondoa."]


async def test_a_quick_reply_button_can_opt_out(whatsapp_client: Any) -> None:
    async with whatsapp_client(opt_out={"keywords": ["STOP", "Stop promotions"]}) as client:
        await post_webhook(client, payload("button"))
        state = await contact_state(client)
    assert state["opted_out"] is True


async def test_an_empty_confirmation_sends_nothing(whatsapp_client: Any, graph: Any) -> None:
    async with whatsapp_client(opt_out={"confirmation": ""}) as client:
        await post_webhook(client, saying("STOP"))
        await settle(client.gateway)
    assert graph.requests == []


async def test_opt_out_can_be_switched_off(whatsapp_client: Any) -> None:
    async with whatsapp_client(opt_out={"enabled": False}) as client:
        await post_webhook(client, saying("STOP"))
        await settle(client.gateway)
        state = await contact_state(client)
    assert state["opted_out"] is False


async def test_an_opted_out_contact_gets_no_acknowledgement(whatsapp_client: Any, graph: Any) -> None:
    ack = {"enabled": True, "text": "We got your message."}
    async with whatsapp_client(acknowledgement=ack) as client:
        # STOP opens the conversation: it is confirmed, not acknowledged.
        await post_webhook(client, saying("STOP"))
        await settle(client.gateway)
    assert [b["text"]["body"] for b in graph.sends()] == [CONFIRMATION]


async def test_staff_can_record_an_opt_out_made_elsewhere(whatsapp_client: Any, graph: Any) -> None:
    async with whatsapp_client() as client:
        operator = await user_headers(client.gateway, "operator")
        viewer = await user_headers(client.gateway, "viewer")
        url = f"/plugins/whatsapp/contacts/{WA_ID}"
        refused = await client.put(url, json={"opted_out": True}, headers=viewer)
        invalid = await client.put(url, json={"opted_out": "maybe"}, headers=operator)
        done = await client.put(url, json={"opted_out": True}, headers=operator)
        delivery = await send(client.gateway, outbound_message())
    assert (refused.status_code, invalid.status_code, done.status_code) == (403, 422, 200)
    assert done.json()["opted_out"] is True
    assert done.json()["keyword"].startswith("(user:operator-")
    assert delivery.status == "dead"
    assert graph.requests == []


async def test_keywords_apply_in_the_order_the_contact_sent_them(whatsapp_client: Any, graph: Any) -> None:
    stop, start = saying("STOP"), saying("START")
    sent_at = int(first_item(stop)["timestamp"])
    first_item(stop)["timestamp"] = str(sent_at - 60)  # STOP was sent first, but arrives last
    async with whatsapp_client() as client:
        await post_webhook(client, start)
        await post_webhook(client, stop)
        await settle(client.gateway)
        state = await contact_state(client)
    assert state["opted_out"] is False
    assert [b["text"]["body"] for b in graph.sends()] == [
        "Welcome back: you will receive our messages again. Reply STOP to stop them."
    ]
