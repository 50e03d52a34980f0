"""The console's keyset lists: a bounded total, and newest / newer / older pages that keep the filters."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from core.auth.users import create_user
from core.testing import GatewayClient, settle
from tests.console.conftest import PASSWORD, log_in
from tests.support.echo import item, post_echo
from tests.support.receiver import Receiver

PAGE_SIZE = 5  # the console's smallest page
BOUND = 10  # a total past this is "more than 10"
PARTICIPANT = "+255700000001"
LINK = re.compile(r'<a href="([^"]+)"[^>]*>(Newest|← Newer|Older →)</a>')


@pytest.fixture
async def small(example_installed: None, app_client: Any, receiver: Receiver) -> AsyncIterator[GatewayClient]:
    """An app whose lists show 5 rows a page and count up to 10, holding 11 messages of one participant
    (11 deliveries, 11 webhook requests) and 10 of others, each in a conversation of its own."""
    async with app_client(
        routes=[{"source": "echo", "destinations": ["crm"]}],
        plugins={
            "http": {"destinations": {"crm": {"url": receiver.url}}},
            "admin": {"page_size": PAGE_SIZE, "list_total_bound": BOUND},
        },
    ) as client:
        await create_user(client.gateway, "operator", PASSWORD, "operator")
        for i in range(11):
            await post_echo(client, item(f"a-{i}", sender=PARTICIPANT))
        for i in range(10):
            await post_echo(client, item(f"b-{i}", sender=f"+2557111111{i:02d}"))
        await settle(client.gateway)
        await client.gateway.audit.flush()  # written in the background
        await log_in(client, "operator")
        yield client


def rows_of(page: str, path: str) -> list[str]:
    return re.findall(rf'href="{re.escape(path)}/([0-9a-f-]+)"', page)


def links_of(page: str) -> dict[str, str]:
    return {name: html.unescape(href) for href, name in LINK.findall(page)}


def kept(link: str, path: str, query: str) -> str | None:
    """Where ``link`` goes ("cursor": older, "before": newer, "newest") if it is ``path`` with ``query``'s filters, else ``None``."""
    parts = urlsplit(link)
    params = parse_qs(parts.query)
    ways = [w for w in ("cursor", "before") if params.pop(w, None)]
    same = parts.path == path and params == parse_qs(query)
    if not same or len(ways) > 1:
        return None
    return ways[0] if ways else "newest"


async def fragment(gw: GatewayClient, url: str) -> str:
    r = await gw.get(url, headers={"HX-Request": "true"})
    assert r.status_code == 200, r.text
    return r.text


LISTS = [
    ("/admin/messages", "participant=%2B255700000001"),
    ("/admin/deliveries", "destination=crm&status=delivered"),
    ("/admin/conversations", "platform=echo&status=open"),
    ("/admin/logs", "platform=echo&kind=webhook"),
]


@pytest.mark.parametrize(("path", "query"), LISTS)
async def test_older_pages_then_newer_pages_show_the_same_rows(small: GatewayClient, path: str, query: str) -> None:
    first = await fragment(small, f"{path}?{query}")
    assert "Newest" not in links_of(first) and "← Newer" not in links_of(first)
    forward = [first]
    while "Older →" in (links := links_of(forward[-1])):
        assert kept(links["Older →"], path, query) == "cursor"
        forward.append(await fragment(small, links["Older →"]))
    assert len(forward) >= 3
    rows = [r for page in forward for r in rows_of(page, path)]
    assert len(rows) == len(set(rows)) and [len(rows_of(p, path)) for p in forward[:-1]] == [PAGE_SIZE] * (
        len(forward) - 1
    )
    assert kept(links_of(forward[-1])["Newest"], path, query) == "newest"

    backward = [forward[-1]]
    while "← Newer" in (links := links_of(backward[-1])):
        assert kept(links["← Newer"], path, query) == "before"
        assert kept(links["Newest"], path, query) == "newest"
        backward.append(await fragment(small, links["← Newer"]))
    assert [rows_of(p, path) for p in reversed(backward)] == [rows_of(p, path) for p in forward]


@pytest.mark.parametrize(("path", "query"), LISTS)
async def test_a_total_past_the_bound_is_more_than_the_bound(small: GatewayClient, path: str, query: str) -> None:
    page = await fragment(small, f"{path}?{query}")
    assert re.search(rf"More than {BOUND} \w+", page)
    assert re.search(rf"More than {BOUND} \w+", await fragment(small, links_of(page)["Older →"]))


async def test_a_total_within_the_bound_is_the_count_of_the_filtered_rows(small: GatewayClient) -> None:
    assert "1 message<" in await fragment(small, "/admin/messages?participant=%2B255711111100")
    assert "0 deliveries" in await fragment(small, "/admin/deliveries?status=dead")
    page = await small.get("/admin/messages?participant=%2B255711111100")
    assert page.status_code == 200 and "1 message<" in page.text and "<html" in page.text


async def test_the_api_pages_back_with_before(small: GatewayClient) -> None:
    token = (await small.post("/api/auth/token", json={"username": "operator", "password": PASSWORD})).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    params = {"participant": PARTICIPANT, "limit": 4}
    first = (await small.get("/api/messages", params=params, headers=headers)).json()
    second = (await small.get("/api/messages", params=params | {"cursor": first["next"]}, headers=headers)).json()
    assert first["newer"] is None and second["newer"] is not None
    back = (await small.get("/api/messages", params=params | {"before": second["newer"]}, headers=headers)).json()
    assert [m["id"] for m in back["items"]] == [m["id"] for m in first["items"]] and back["newer"] is None
    both = await small.get(
        "/api/messages", params=params | {"before": second["newer"], "cursor": first["next"]}, headers=headers
    )
    assert both.status_code == 422


async def test_the_audit_logs_kind_filter_offers_every_kind_the_gateway_writes(gw: GatewayClient) -> None:
    # Webhook, delivery and system entries were filterable by URL, but the box showed "any".
    from typing import get_args

    from core.operations.filters import AuditKind

    await log_in(gw, "admin")
    page = await fragment(gw, "/admin/logs?kind=delivery")
    full = (await gw.get("/admin/logs?kind=delivery")).text
    box = re.search(r'<select name="kind".*?</select>', full, re.DOTALL)
    assert box is not None, full
    assert re.findall(r"<option ?(?:selected)?>(\w+)</option>", box.group()) == list(get_args(AuditKind))
    assert "<option selected>delivery</option>" in box.group()
    assert page  # the fragment answers too
