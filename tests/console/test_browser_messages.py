"""The messages browser in a real browser against a live server: live filters in the URL, one message."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Browser, expect

from core.testing import GatewayClient
from tests.console.conftest import PASSWORD, XSS
from tests.console.test_messages_page import outbound
from tests.support.browser import logged_in, shot
from tests.support.echo import item, post_echo


async def test_messages_filter_by_platform_live_and_one_opens_with_its_text_as_text(
    gw: GatewayClient, site: str, browser: Browser
) -> None:
    await post_echo(gw, item("in-1", text=XSS), item("in-2", text="second from echo"))
    await outbound(gw, "+255700000009", "reply over sms")
    page = await logged_in(browser, site, "viewer", PASSWORD, "/admin/messages")
    dialogs: list[Any] = []
    page.on("dialog", lambda d: dialogs.append(d))
    await expect(page.locator("#results tbody tr")).to_have_count(3)
    await page.select_option("select[name=platform]", "echo")
    await expect(page).to_have_url(re.compile(r"platform=echo"))
    await expect(page.locator("#results tbody tr")).to_have_count(2)
    await expect(page.locator("#results")).not_to_contain_text("reply over sms")
    await shot(page, "messages")
    await page.locator("#results tbody tr", has_text="alert(1)").locator("a").click()
    await expect(page).to_have_url(re.compile(r"/admin/messages/[0-9a-f-]{36}$"))
    await expect(page.locator(".message-text")).to_have_text(XSS)
    await expect(page.locator("table.deliveries")).to_contain_text("crm")
    await shot(page, "message")
    await page.go_back()
    await expect(page).to_have_url(re.compile(r"platform=echo"))
    await expect(page.locator("select[name=platform]")).to_have_value("echo")
    assert dialogs == []


async def test_the_messages_filters_work_without_javascript(gw: GatewayClient, site: str, browser: Browser) -> None:
    await post_echo(gw, item("in-1", text="from echo"))
    await outbound(gw, "+255700000009", "reply over sms")
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    await page.goto(f"{site}/admin/messages")
    await page.fill("input[name=username]", "viewer")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/admin/messages$"))
    await page.fill("input[name=participant]", "+255700000009")
    await page.click("form.filters button[type=submit]")
    await expect(page).to_have_url(re.compile(r"participant=%2B255700000009"))
    await expect(page.locator("#results tbody tr")).to_have_count(1)
    await expect(page.locator("#results")).to_contain_text("reply over sms")
    await context.close()
