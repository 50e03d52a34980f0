"""One search box: a message by id, external id or participant prefix; a delivery by id."""

from __future__ import annotations

import sqlalchemy as sa

from core.storage.models import deliveries, messages
from core.testing import GatewayClient
from tests.console.conftest import log_in
from tests.support.echo import item, post_echo


async def stored(gw: GatewayClient) -> tuple[str, str]:
    async with gw.gateway.db.transaction() as conn:
        message_id = (await conn.execute(sa.select(messages.c.id).where(messages.c.external_id == "wamid.HBgL42"))).scalar_one()
        delivery_id = (await conn.execute(sa.select(deliveries.c.id).where(deliveries.c.message_id == message_id))).scalar_one()
    return str(message_id), str(delivery_id)


async def test_an_external_id_opens_its_message(gw: GatewayClient) -> None:
    await post_echo(gw, item("wamid.HBgL42", sender="+255711000222", text="find me"), item("other", text="not me"))
    message_id, _ = await stored(gw)
    await log_in(gw, "viewer")
    r = await gw.get("/admin/search", params={"q": "wamid.HBgL42"})
    assert r.status_code == 303 and r.headers["location"] == f"/admin/messages/{message_id}"


async def test_ids_of_a_message_and_of_a_delivery_open_them(gw: GatewayClient) -> None:
    await post_echo(gw, item("wamid.HBgL42", text="find me"))
    message_id, delivery_id = await stored(gw)
    await log_in(gw, "viewer")
    assert (await gw.get("/admin/search", params={"q": message_id})).headers["location"] == f"/admin/messages/{message_id}"
    assert (await gw.get("/admin/search", params={"q": f" {delivery_id} "})).headers["location"] == f"/admin/deliveries/{delivery_id}"


async def test_a_participant_prefix_lists_their_messages_only(gw: GatewayClient) -> None:
    await post_echo(
        gw,
        item("a-1", sender="+255711000222", text="first of them"),
        item("a-2", sender="+255711000222", text="second of them"),
        item("b-1", sender="+255799000111", text="someone else"),
    )
    await log_in(gw, "viewer")
    page = await gw.get("/admin/search", params={"q": "+2557110"})
    assert page.status_code == 200
    assert page.text.count("+255711000222") >= 2 and "+255799000111" not in page.text


async def test_nothing_found_says_so_and_text_is_escaped(gw: GatewayClient) -> None:
    await log_in(gw, "viewer")
    page = await gw.get("/admin/search", params={"q": "<b>nothing</b>"})
    assert page.status_code == 200 and "No message matches." in page.text and "<b>nothing</b>" not in page.text
