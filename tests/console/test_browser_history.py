"""Back and forward in a real browser: the filters' boxes always say what the list shows."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from core.testing import GatewayClient
from tests.console.conftest import PASSWORD
from tests.support.browser import logged_in


async def test_back_restores_the_boxes_with_the_list_and_the_next_change_keeps_them(
    gw: GatewayClient, site: str, browser: Browser
) -> None:
    page = await logged_in(browser, site, "operator", PASSWORD, "/admin/deliveries")
    await page.check("form.filters input[name=status][value=dead]")
    await expect(page).to_have_url(re.compile(r"\?status=dead&destination="))
    await page.check("form.filters input[name=status][value=retrying]")
    await expect(page).to_have_url(re.compile(r"(?=.*status=dead)(?=.*status=retrying)"))
    await page.go_back()
    await expect(page).to_have_url(re.compile(r"\?status=dead&destination="))
    await expect(page.locator("form.filters input[name=status][value=dead]")).to_be_checked()
    await expect(page.locator("form.filters input[name=status][value=retrying]")).not_to_be_checked()
    await page.go_back()
    await expect(page).to_have_url(re.compile(r"/admin/deliveries$"))
    await expect(page.locator("form.filters input[name=status][value=dead]")).not_to_be_checked()
    await page.go_forward()
    await expect(page.locator("form.filters input[name=status][value=dead]")).to_be_checked()
    await page.check("form.filters input[name=status][value=queued]")
    await expect(page).to_have_url(re.compile(r"(?=.*status=dead)(?=.*status=queued)"))
