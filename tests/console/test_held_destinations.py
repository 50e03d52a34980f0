"""A destination held back (paused, breaker open) is shown the same way everywhere, from one definition:
the breaker of core.operations.destinations (what /api/destinations answers)."""

from __future__ import annotations

import re

from core.testing import GatewayClient
from tests.console.conftest import bearer, dead_delivery, log_in
from tests.support.echo import item, post_echo
from tests.support.receiver import Receiver


async def pause_crm(gw: GatewayClient) -> None:
    r = await gw.post("/api/destinations/crm/pause", headers=await bearer(gw, "operator"))
    assert r.status_code == 200, r.text


async def test_the_plugins_page_shows_the_breaker_the_destinations_page_shows(gw: GatewayClient, receiver: Receiver) -> None:
    await dead_delivery(gw, receiver)
    await pause_crm(gw)
    api = await gw.get("/api/destinations", headers=await bearer(gw, "viewer"))
    crm = next(d for d in api.json()["items"] if d["name"] == "crm")
    await log_in(gw, "viewer")
    plugins = await gw.get("/admin/plugins")
    row = re.search(r"<tr><td><a href=\"/admin/destinations\">crm</a></td>(.*?)</tr>", plugins.text, re.S)
    assert row, plugins.text
    assert "paused" in row.group(1) and f">{crm['failure_streak']}<" in row.group(1)


async def test_a_delivery_waiting_on_a_paused_destination_says_so(gw: GatewayClient) -> None:
    await pause_crm(gw)
    await post_echo(gw, item("held-1", text="hello"))
    r = await gw.get("/api/deliveries", headers=await bearer(gw, "operator"))
    (delivery,) = r.json()["items"]
    await log_in(gw, "viewer")
    page = await gw.get(f"/admin/deliveries/{delivery['id']}")
    assert 'id="held-notice"' in page.text and "paused" in page.text
    assert "Waiting for the worker" not in page.text


async def test_the_dashboard_and_the_navigation_show_a_paused_destination(gw: GatewayClient) -> None:
    await log_in(gw, "viewer")
    assert 'id="held-badge"' not in (await gw.get("/admin/messages")).text
    await pause_crm(gw)
    dashboard = await gw.get("/admin/")
    assert 'id="held"' in dashboard.text and "crm" in dashboard.text
    assert 'id="held-badge"' in (await gw.get("/admin/messages")).text
