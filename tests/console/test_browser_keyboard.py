"""The console with the keyboard alone, in a real browser: a skip link, visible focus, the current page, icons in words."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.async_api import Browser, expect

from core.storage.ids import uuid7
from core.storage.models import messages
from core.testing import GatewayClient
from tests.console.conftest import PASSWORD
from tests.support.browser import logged_in


async def test_the_first_tab_reaches_a_skip_link_that_moves_focus_to_the_content(
    gw: GatewayClient, site: str, browser: Browser
) -> None:
    page = await logged_in(browser, site, "viewer", PASSWORD, "/admin/messages")
    await page.keyboard.press("Tab")
    skip = page.locator(":focus")
    await expect(skip).to_have_text("Skip to content")
    await expect(skip).to_be_in_viewport()
    await page.keyboard.press("Enter")
    await expect(page.locator("main#main")).to_be_focused()


async def test_the_focused_control_is_outlined(gw: GatewayClient, site: str, browser: Browser) -> None:
    page = await logged_in(browser, site, "viewer", PASSWORD, "/admin/messages")
    await page.locator("form.filters button[type=submit]").focus()
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Tab")
    style = await page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert style not in ("none", "")


async def test_the_current_page_is_marked_in_the_navigation(gw: GatewayClient, site: str, browser: Browser) -> None:
    page = await logged_in(browser, site, "viewer", PASSWORD, "/admin/messages")
    current = page.locator("nav a[aria-current=page]")
    await expect(current).to_have_count(1)
    await expect(current).to_have_attribute("href", "/admin/messages")


async def test_the_attachment_icon_is_read_as_words(gw: GatewayClient, site: str, browser: Browser) -> None:
    now = datetime.now(UTC)
    async with gw.gateway.db.transaction() as conn:
        await conn.execute(
            messages.insert().values(
                id=uuid7(), platform="echo", external_id="with-media", direction="in", kind="image",
                sender="+255700000001", text="look", media=[{"id": "m-1", "mime_type": "image/jpeg"}],
                timestamp=now, extra={}, received_at=now,
            )
        )
    page = await logged_in(browser, site, "viewer", PASSWORD, "/admin/messages")
    attachments = page.locator("#results .attachments")
    await expect(attachments.locator("[aria-hidden=true]")).to_have_text("📎")
    await expect(attachments).to_have_text("📎1 attachment")
