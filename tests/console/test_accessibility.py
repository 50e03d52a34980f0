"""axe-core in a real browser: no critical or serious violation on any page of the console, for every role.

axe-core is vendored in tests/console/assets (see its README): the tests run offline.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from core.auth.api_keys import create_key
from core.auth.users import create_user
from core.testing import GatewayClient
from tests.console.conftest import PASSWORD, dead_delivery
from tests.support.echo import item, post_echo
from tests.support.receiver import Receiver

AXE = Path(__file__).parent / "assets" / "axe.min.js"
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter(v => v.impact === "critical" || v.impact === "serious")
    .map(v => ({rule: v.id, impact: v.impact, elements: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}));
}"""


async def violations(page: Page) -> list[dict[str, Any]]:
    await page.add_script_tag(path=str(AXE))
    return list(await page.evaluate(RUN_AXE))


async def signed_in(browser: Browser, site: str, role: str) -> Page:
    # The test injects axe-core inline; the console's Content-Security-Policy rightly forbids that.
    context = await browser.new_context(bypass_csp=True, viewport={"width": 1366, "height": 900})
    page = await context.new_page()
    await page.goto(f"{site}/admin/login")
    await page.fill("input[name=username]", role)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).not_to_have_url(re.compile(r"/login"))
    return page


async def pages_of(page: Page, site: str) -> list[str]:
    """Every page the navigation offers, and the first record linked from each list."""
    await page.goto(f"{site}/admin/")
    nav = await page.eval_on_selector_all("nav a[href^='/admin']", "links => links.map(a => a.getAttribute('href'))")
    found: list[str] = []
    for href in nav:
        found.append(href)
        await page.goto(site + href)
        detail = await page.eval_on_selector_all(
            "#results tbody a[href^='/admin/'], table.list tbody a[href^='/admin/']",
            "links => links.map(a => a.getAttribute('href'))",
        )
        found.extend(d for d in detail[:1] if d not in found)
    return [*dict.fromkeys(found), "/admin/password", "/admin/no-such-page"]


async def seeded(gw: GatewayClient, receiver: Receiver) -> None:
    await dead_delivery(gw, receiver, text="a message with a link https://example.org in it")
    await post_echo(gw, item("ok-1", text="second"))
    await create_user(gw.gateway, "newcomer", PASSWORD, "viewer", status="pending", full_name="New Comer")
    await create_key(gw.gateway, "crm-sync", ["deliveries:read"])


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
async def test_no_page_has_a_critical_or_serious_violation(
    gw: GatewayClient, receiver: Receiver, site: str, browser: Browser, role: str
) -> None:
    await seeded(gw, receiver)
    page = await signed_in(browser, site, role)
    found: dict[str, list[dict[str, Any]]] = {}
    paths = await pages_of(page, site)
    assert len(paths) > 8
    for path in paths:
        await page.goto(site + path)
        problems = await violations(page)
        if problems:
            found[path] = problems
    assert found == {}, "\n".join(f"{p}: {v['rule']} ({v['impact']}) {v['elements']}" for p, vs in found.items() for v in vs)


async def test_the_login_page_has_no_critical_or_serious_violation(site: str, browser: Browser) -> None:
    context = await browser.new_context(bypass_csp=True)
    page = await context.new_page()
    await page.goto(f"{site}/admin/login")
    assert await violations(page) == []
