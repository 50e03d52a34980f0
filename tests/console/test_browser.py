"""The console in a real browser (Debian's chromium through Playwright), against a live server.

Screenshots of the main pages go to tests/console/screenshots/ (ignored by git); the path is printed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from core.testing import GatewayClient
from tests.console.conftest import PASSWORD, XSS, dead_delivery
from tests.support.receiver import Receiver

SHOTS = Path(__file__).parent / "screenshots"
pytestmark = pytest.mark.stacks("sqlite")  # the in-process worker delivers a requeued delivery by itself


async def logged_in(browser: Browser, site: str, role: str) -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 860})
    await page.goto(f"{site}/admin/deliveries")
    await expect(page).to_have_url(re.compile(r"/admin/login"))
    await page.fill("input[name=username]", role)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/admin/deliveries"))
    return page


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    print(f"screenshot: {SHOTS / name}.png")


async def test_an_operator_requeues_a_dead_delivery_and_sees_it_delivered(
    gw: GatewayClient, receiver: Receiver, site: str, browser: Browser
) -> None:
    delivery_id = await dead_delivery(gw, receiver)
    receiver.heal()
    page = await logged_in(browser, site, "operator")
    await page.check("input[name=status][value=dead]")
    await expect(page).to_have_url(re.compile(r"status=dead"))
    await shot(page, "deliveries")
    await page.click(f"a[href='/admin/deliveries/{delivery_id}']")
    await expect(page.locator("h1 .status")).to_have_text("dead")
    await shot(page, "delivery-dead")
    await page.click("#requeue")
    await expect(page.locator("h1 .status")).to_have_text("delivered", timeout=15_000)
    await shot(page, "delivery-delivered")


async def test_logs_filter_by_status_and_date_live_and_in_the_url(
    gw: GatewayClient, receiver: Receiver, site: str, browser: Browser
) -> None:
    await gw.get("/api/deliveries")  # an anonymous 401 in the log
    page = await logged_in(browser, site, "operator")
    await page.goto(f"{site}/admin/logs")
    await page.fill("input[name=status]", "401")
    await expect(page).to_have_url(re.compile(r"status=401"))
    await expect(page.locator("#results tbody tr").first).to_contain_text("/api/deliveries")
    await page.fill("input[name=since]", "2000-01-01")
    await expect(page).to_have_url(re.compile(r"since=2000-01-01"))
    await expect(page.locator("#results tbody tr").first).to_contain_text("401")
    await shot(page, "logs")
    await page.fill("input[name=until]", "2000-01-02")
    await expect(page.locator("#results .empty")).to_be_visible()
    await page.go_back()
    await expect(page).not_to_have_url(re.compile(r"until=2000"))


async def test_a_viewer_sees_no_requeue_button_and_the_server_refuses_one(
    gw: GatewayClient, receiver: Receiver, site: str, browser: Browser
) -> None:
    delivery_id = await dead_delivery(gw, receiver)
    page = await logged_in(browser, site, "viewer")
    await page.goto(f"{site}/admin/deliveries/{delivery_id}")
    await expect(page.locator("h1 .status")).to_have_text("dead")
    await expect(page.locator("#requeue")).to_have_count(0)
    token = await page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']")
    status = await page.evaluate(
        """async ([url, token]) => (await fetch(url, {method: 'POST', headers: {'X-CSRF-Token': token}})).status""",
        [f"/admin/deliveries/{delivery_id}/requeue", token],
    )
    assert status == 403


async def test_a_message_holding_a_script_shows_as_text(
    gw: GatewayClient, receiver: Receiver, site: str, browser: Browser
) -> None:
    delivery_id = await dead_delivery(gw, receiver, text=XSS)
    page = await logged_in(browser, site, "viewer")
    dialogs: list[Any] = []
    page.on("dialog", lambda d: dialogs.append(d))
    await page.goto(f"{site}/admin/deliveries/{delivery_id}")
    await expect(page.locator(".message-text")).to_have_text(XSS)
    assert dialogs == []


async def test_the_dashboard_and_other_pages_render(
    gw: GatewayClient, receiver: Receiver, site: str, browser: Browser
) -> None:
    await dead_delivery(gw, receiver)
    page = await logged_in(browser, site, "admin")
    for name, path, heading in (
        ("dashboard", "/admin/", "Dashboard"),
        ("conversations", "/admin/conversations", "Conversations"),
        ("plugins", "/admin/plugins", "Plugins"),
        ("users", "/admin/users", "Users"),
    ):
        await page.goto(site + path)
        await expect(page.locator("h1").first).to_have_text(heading)
        await shot(page, name)
    await expect(page.locator("svg.chart")).to_have_count(0)
    await page.goto(site + "/admin/")
    await expect(page.locator("svg.chart")).to_have_count(1)
