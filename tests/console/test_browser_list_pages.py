"""A keyset list's pages in a real browser: Older and Newer swap the results in place and keep the filters."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from core.testing import GatewayClient
from tests.console.conftest import PASSWORD
from tests.console.test_list_pages import small  # noqa: F401  (the fixture: 5 rows a page, 11 of one participant)
from tests.support.browser import logged_in
from tests.support.serving import serving


@pytest.fixture
async def site(small: GatewayClient) -> AsyncIterator[str]:  # noqa: F811
    async with serving(small.app) as url:
        yield url


async def shown(page: Page) -> list[str]:
    return await page.locator("#results tbody tr a").evaluate_all("(links) => links.map((a) => a.getAttribute('href'))")


@pytest.mark.stacks("sqlite")  # a browser over the console: the stack does not change what it loads
async def test_older_then_newer_in_a_browser_shows_the_same_page_with_the_filter(site: str, browser: Browser) -> None:
    page = await logged_in(browser, site, "operator", PASSWORD, "/admin/messages?participant=%2B255700000001")
    await expect(page.locator(".pager .total")).to_have_text("More than 10 messages")
    first = await shown(page)
    await page.get_by_role("link", name="Older →").click()
    await expect(page).to_have_url(re.compile(r"^(?=.*[?&]cursor=)(?=.*[?&]participant=%2B255700000001)"))
    await expect(page.get_by_role("link", name="← Newer")).to_be_visible()
    second = await shown(page)
    assert len(second) == 5 and not set(second) & set(first)
    await page.get_by_role("link", name="Older →").click()
    await expect(page.locator("#results tbody tr")).to_have_count(1)
    await page.get_by_role("link", name="← Newer").click()
    await expect(page).to_have_url(re.compile(r"^(?=.*[?&]before=)(?=.*[?&]participant=%2B255700000001)"))
    await expect(page.locator("#results tbody tr")).to_have_count(5)
    assert await shown(page) == second
    await page.get_by_role("link", name="Newest").click()
    await expect(page.get_by_role("link", name="Newest")).to_have_count(0)
    assert await shown(page) == first
    await expect(page.locator("input[name=participant]")).to_have_value("+255700000001")
