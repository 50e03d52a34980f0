"""The console's messages: a filtered, keyset-paged list and one message in full."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from core.storage.ids import uuid7
from core.storage.models import messages
from core.testing import GatewayClient, settle
from tests.console.conftest import XSS, bearer, dead_delivery, log_in
from tests.support.echo import item, post_echo
from tests.support.receiver import Receiver


async def outbound(gw: GatewayClient, recipient: str, text: str, platform: str = "sms") -> str:
    """An outbound message written straight to the table (as a reply would be); its id."""
    message_id = uuid7()
    now = datetime.now(UTC)
    async with gw.gateway.db.transaction() as conn:
        await conn.execute(
            messages.insert().values(
                id=message_id,
                platform=platform,
                external_id=f"out-{message_id}",
                direction="out",
                kind="text",
                recipient=recipient,
                text=text,
                media=[],
                timestamp=now,
                extra={},
                received_at=now,
            )
        )
    return str(message_id)


async def test_the_list_filters_by_platform_direction_and_kind_in_the_url(gw: GatewayClient) -> None:
    await post_echo(gw, item("in-1", text="from echo"))
    await outbound(gw, "+255700000009", "to sms")
    await log_in(gw, "viewer")
    page = await gw.get("/admin/messages?platform=sms")
    assert page.status_code == 200
    assert "to sms" in page.text and "from echo" not in page.text
    page = await gw.get("/admin/messages?direction=in&kind=text")
    assert "from echo" in page.text and "to sms" not in page.text
    page = await gw.get("/admin/messages?kind=image")
    assert "No messages match." in page.text


async def test_a_participant_is_found_as_sender_and_as_recipient(gw: GatewayClient) -> None:
    await post_echo(
        gw, item("in-1", sender="+255700000001", text="asked"), item("in-2", sender="+255711111111", text="other")
    )
    await outbound(gw, "+255700000001", "answered")
    await log_in(gw, "viewer")
    page = await gw.get("/admin/messages?participant=%2B255700000001")
    assert "asked" in page.text and "answered" in page.text and "other" not in page.text


async def test_the_api_lists_a_participants_messages_through_the_same_query(gw: GatewayClient) -> None:
    await post_echo(gw, item("in-1", sender="+255700000001"), item("in-2", sender="+255711111111"))
    reply = await outbound(gw, "+255700000001", "answered")
    r = await gw.get("/api/messages", params={"participant": "+255700000001"}, headers=await bearer(gw, "viewer"))
    items = r.json()["items"]
    assert [m["id"] for m in items][0] == reply and len(items) == 2


async def test_pages_follow_one_another_without_gaps_or_repeats(gw: GatewayClient) -> None:
    await post_echo(gw, *(item(f"m-{i}", sender="+255700000001", text=f"number {i}") for i in range(5)))
    for i in range(4):
        await outbound(gw, "+255700000001", f"reply {i}")
    await log_in(gw, "viewer")
    seen: list[str] = []
    url: str | None = "/admin/messages?participant=%2B255700000001&limit=2"
    while url is not None:
        r = await gw.get(url, headers={"HX-Request": "true"})
        seen += [
            line.split('href="/admin/messages/')[1].split('"')[0]
            for line in r.text.splitlines()
            if 'href="/admin/messages/' in line
        ]
        more = r.text.split('class="more"><a href="', 1)
        url = more[1].split('"', 1)[0].replace("&amp;", "&") if len(more) == 2 else None
    assert len(seen) == 9 and len(set(seen)) == 9
    assert seen == sorted(seen, reverse=True)


async def test_an_htmx_request_gets_the_results_fragment_only(gw: GatewayClient) -> None:
    await post_echo(gw, item("in-1"))
    await log_in(gw, "viewer")
    r = await gw.get("/admin/messages?platform=echo", headers={"HX-Request": "true"})
    assert r.status_code == 200 and "<html" not in r.text and "<table" in r.text
    assert "<form" not in r.text


async def test_a_filter_that_is_not_valid_is_a_422_naming_it(gw: GatewayClient) -> None:
    await log_in(gw, "viewer")
    r = await gw.get("/admin/messages?direction=sideways")
    assert r.status_code == 422 and "direction" in r.text
    r = await gw.get("/admin/messages?since=yesterday")
    assert r.status_code == 422 and "since" in r.text
    r = await gw.get("/admin/messages?cursor=not-a-cursor")
    assert r.status_code == 400 and "cursor" in r.text


async def test_a_message_page_shows_its_text_as_text_and_its_raw_payload_redacted(gw: GatewayClient) -> None:
    await post_echo(gw, item("x-1", text=XSS) | {"password": "hunter2-secret"})
    await log_in(gw, "viewer")
    (message,) = (await gw.get("/api/messages", headers=await bearer(gw, "viewer"))).json()["items"]
    page = await gw.get(f"/admin/messages/{message['id']}")
    assert page.status_code == 200
    assert XSS not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "hunter2-secret" not in page.text and "[redacted]" in page.text
    assert f'href="/admin/conversations/{message["conversation_id"]}"' in page.text


async def test_a_message_page_links_each_delivery_with_its_status(gw: GatewayClient, receiver: Receiver) -> None:
    delivery_id = await dead_delivery(gw, receiver)
    await settle(gw.gateway)
    await log_in(gw, "viewer")
    (message,) = (await gw.get("/api/messages", headers=await bearer(gw, "viewer"))).json()["items"]
    page = await gw.get(f"/admin/messages/{message['id']}")
    assert f'href="/admin/deliveries/{delivery_id}"' in page.text
    assert 'class="status s-dead"' in page.text


async def test_an_unknown_message_is_a_404(gw: GatewayClient) -> None:
    await log_in(gw, "viewer")
    assert (await gw.get(f"/admin/messages/{uuid.uuid4()}")).status_code == 404
    assert (await gw.get("/admin/messages/not-an-id")).status_code == 404


async def test_the_messages_page_is_in_the_navigation_and_has_no_buttons_for_a_viewer(gw: GatewayClient) -> None:
    await post_echo(gw, item("in-1"))
    await log_in(gw, "viewer")
    page = await gw.get("/admin/messages")
    assert 'href="/admin/messages" class="active"' in page.text
    assert 'method="post"' not in page.text.replace('action="/admin/logout"', "").split("<main", 1)[1]


async def test_an_outbound_message_without_a_conversation_or_payload_has_its_page(gw: GatewayClient) -> None:
    message_id = await outbound(gw, "+255700000009", "reply over sms")
    await log_in(gw, "viewer")
    page = await gw.get(f"/admin/messages/{message_id}")
    assert page.status_code == 200
    assert "outbound" in page.text and "+255700000009" in page.text
    assert "No raw payload stored." in page.text and "No deliveries" in page.text
