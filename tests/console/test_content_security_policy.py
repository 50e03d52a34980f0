"""The console and the API docs tell the browser what they may load and that no one may frame them.

The console's policy allows its own stylesheet and htmx only: no inline script or style. The
browser test visits every page of the navigation (and uses htmx on the way) and fails on any
violation the browser reports.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, ConsoleMessage, expect

from core.testing import GatewayClient
from tests.console.conftest import PASSWORD, dead_delivery, log_in
from tests.support.receiver import Receiver

CONSOLE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
# Every violation the page sees, in the page itself (the browser's own console says it too).
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile + ":" + e.lineNumber);
});
"""


async def test_console_pages_carry_the_policy_and_refuse_framing(gw: GatewayClient) -> None:
    login = await gw.get("/admin/login")
    assert login.headers["content-security-policy"] == CONSOLE_POLICY
    assert login.headers["x-frame-options"] == "DENY"
    redirect = await gw.get("/admin/deliveries")  # not signed in: the redirect carries them too
    assert redirect.status_code in (302, 303) and redirect.headers["x-frame-options"] == "DENY"
    await log_in(gw, "admin")
    for path in ("/admin/", "/admin/deliveries", "/admin/static/admin.css"):
        r = await gw.get(path)
        assert r.headers["content-security-policy"] == CONSOLE_POLICY, path
        assert r.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


async def test_the_api_docs_carry_their_own_policy_and_refuse_framing(gw: GatewayClient) -> None:
    r = await gw.get("/docs")
    policy = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self';" in policy and "'unsafe-eval'" not in policy
    assert r.headers["x-frame-options"] == "DENY"


@pytest.mark.stacks("sqlite")  # a browser over the console: the stack does not change what it loads
async def test_no_console_page_breaks_the_policy(
    gw: GatewayClient, receiver: Receiver, site: str, browser: Browser
) -> None:
    await dead_delivery(gw, receiver)
    page = await browser.new_page(viewport={"width": 1280, "height": 860})
    await page.add_init_script(RECORD_VIOLATIONS)
    reported: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            reported.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    violations: list[str] = []

    async def check(where: str) -> None:
        violations.extend(f"{where}: {v}" for v in await page.evaluate("window.__violations"))

    await page.goto(site + "/admin/login")
    await check("login")
    await page.fill("input[name=username]", "admin")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/admin/?$"))
    await check("dashboard")
    links = await page.locator("nav.side a").evaluate_all("(links) => links.map((a) => a.getAttribute('href'))")
    assert len(links) > 3
    for href in links:
        await page.goto(site + href)
        await expect(page.locator("h1").first).to_be_visible()
        await check(href)
    # htmx at work: a live filter swaps the results in place.
    await page.goto(site + "/admin/deliveries")
    async with page.expect_response(re.compile(r"/admin/deliveries\?")):
        await page.check("input[name=status][value=dead]")
    await check("/admin/deliveries (htmx)")
    await page.goto(site + "/docs")
    await expect(page.locator(".swagger-ui").first).to_be_visible()
    await expect(page.locator(".opblock").first).to_be_visible()
    await check("/docs")
    assert violations == [] and reported == [], "\n".join(violations + reported)
