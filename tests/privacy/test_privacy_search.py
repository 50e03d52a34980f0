"""With a data key, the search box finds a participant by the whole number only (and says so)."""

from __future__ import annotations

from core import StandardMessage
from core.operations import records
from core.testing import gateway_client, new_external_id, user_headers
from tests.conftest import Stack
from tests.privacy.support import KEY


async def test_search_finds_a_whole_number_but_not_a_prefix_with_a_key(clean_stack: Stack) -> None:
    number = "+256711223344"
    message = StandardMessage(
        platform="sms", external_id=new_external_id(), kind="text", direction="in", sender=number, text="hello"
    )
    async with gateway_client(clean_stack.settings(privacy={"key": KEY}), migrate=False) as client:
        await client.gateway.submit([message])
        whole = await records.search(client.gateway.db, number, ["sms"])
        prefix = await records.search(client.gateway.db, number[:8], ["sms"])
        page = await client.get(
            "/admin/search", params={"q": number[:8]}, headers=await user_headers(client.gateway, "viewer")
        )
    assert [m["sender"] for m in whole["messages"]] == [number]
    assert prefix["messages"] == []
    # The search page says why the start of a number finds nothing.
    assert page.status_code == 200
    assert "whole number or address" in page.text and "the start of a number finds nothing" in page.text


async def test_search_by_prefix_still_works_without_a_key(clean_stack: Stack) -> None:
    number = "+256711223355"
    message = StandardMessage(
        platform="sms", external_id=new_external_id(), kind="text", direction="in", sender=number, text="hello"
    )
    async with gateway_client(clean_stack.settings(), migrate=False) as client:
        await client.gateway.submit([message])
        prefix = await records.search(client.gateway.db, number[:8], ["sms"])
        page = await client.get(
            "/admin/search", params={"q": number, "list": "1"}, headers=await user_headers(client.gateway, "viewer")
        )
    assert [m["sender"] for m in prefix["messages"]] == [number]
    assert "the start of a participant&#39;s number" in page.text or "the start of a participant's number" in page.text
