"""A failed action in a real browser is shown to the user, and the stale part of the page is fetched again."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, expect

from core.testing import GatewayClient
from tests.console.conftest import PASSWORD, bearer
from tests.support.browser import logged_in, shot


async def test_pausing_a_destination_paused_from_another_tab_says_why_and_refreshes_the_row(
    gw: GatewayClient, site: str, browser: Browser
) -> None:
    page = await logged_in(browser, site, "operator", PASSWORD, "/admin/destinations")
    page.on("dialog", lambda d: d.accept())
    row = page.locator("tr", has_text="crm")
    await expect(row.locator("button", has_text="Pause")).to_be_visible()
    # Someone else pauses it meanwhile: this tab is stale.
    r = await gw.post("/api/destinations/crm/pause", headers=await bearer(gw, "operator"))
    assert r.status_code == 200, r.text
    await row.locator("button", has_text="Pause").click()
    await expect(page.locator("#messages [role=alert]")).to_contain_text("already paused")
    await expect(page.locator("tr", has_text="crm").locator("button", has_text="Pause")).to_have_count(0)
    await expect(page.locator("tr", has_text="crm")).to_contain_text("paused")
    await shot(page, "stale-pause")


async def test_a_bad_status_typed_into_a_list_filter_is_shown_above_the_list(
    gw: GatewayClient, site: str, browser: Browser
) -> None:
    page = await logged_in(browser, site, "operator", PASSWORD, "/admin/logs")
    dialogs: list[Any] = []
    page.on("dialog", lambda d: dialogs.append(d))
    await page.fill("input[name=status]", "abc")
    await expect(page.locator("#results [role=alert]")).to_contain_text("status")
    assert dialogs == []
