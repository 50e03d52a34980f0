"""A real browser for the console's tests: Debian's chromium through Playwright, logged in through the form.

Screenshots go to tests/console/screenshots/ (ignored by git); each path is printed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright, expect

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
