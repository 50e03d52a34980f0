"""A real browser for the console's tests: Debian's chromium through Playwright, logged in through the form.

One Chromium per test session (per xdist worker): starting one costs seconds, a new browser
context costs milliseconds. Every ``browser.new_page()``/``browser.new_context()`` is a new
context (its own cookies, storage and cache), and ``SharedChromium.for_a_test`` closes the
contexts a test opened when it ends, so no test sees another's session.

Screenshots go to tests/console/screenshots/ (ignored by git); each path is printed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, Page, Playwright, async_playwright, expect

SHOTS = Path(__file__).resolve().parent.parent / "console" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


class SharedChromium:
    """One Chromium for a test session, started when a test first asks for it (again if it crashed)."""

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    async def _running(self) -> Browser:
        if self._browser is None or not self._browser.is_connected():
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        return self._browser

    @asynccontextmanager
    async def for_a_test(self) -> AsyncIterator[Browser]:
        """The browser, without contexts; the contexts (and their pages) the test opened are closed after it."""
        browser = await self._running()
        assert not browser.contexts, "a previous test's browser context is still open"
        try:
            yield browser
        finally:
            if browser.is_connected():
                for context in browser.contexts:
                    await context.close()

    async def close(self) -> None:
        if self._browser is not None and self._browser.is_connected():
            await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()


async def logged_in(browser: Browser, site: str, username: str, password: str, path: str) -> Page:
    """A page at ``path`` after logging in as ``username`` through the login form it redirects to."""
    page = await browser.new_page(viewport={"width": 1280, "height": 860})
    await page.goto(site + path)
    await expect(page).to_have_url(re.compile(r"/admin/login"))
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(re.compile(re.escape(path.rstrip("/"))))
    return page


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    print(f"screenshot: {SHOTS / name}.png")
