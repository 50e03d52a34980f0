"""The console on any screen, in a real browser: a phone (390 px), a laptop (1366 px), a dark scheme."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser

from core.testing import GatewayClient
from tests.console.test_accessibility import pages_of, seeded, signed_in, violations
from tests.support.browser import shot
from tests.support.receiver import Receiver

OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  if (document.documentElement.scrollWidth > width) out.push("page scrolls sideways: " + document.documentElement.scrollWidth);
  for (const el of document.querySelectorAll("body *")) {
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden" || el.closest(".visually-hidden, .skip-link, thead, svg")) continue;
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 1) out.push(el.tagName.toLowerCase() + "." + el.className + " right " + Math.round(box.right));
  }
  return out.slice(0, 5);
}"""


async def test_at_390_px_no_page_is_cut_off_or_scrolls_sideways(
    gw: GatewayClient, receiver: Receiver, site: str, browser: Browser
) -> None:
    await seeded(gw, receiver)
    page = await signed_in(browser, site, "admin")
    paths = await pages_of(page, site)
    await page.set_viewport_size({"width": 390, "height": 844})
    found: dict[str, Any] = {}
    for path in paths:
        await page.goto(site + path)
        problems = await page.evaluate(OVERFLOWING)
        if problems:
            found[path] = problems
    await page.goto(site + "/admin/deliveries")
    await shot(page, "phone-deliveries")
    assert found == {}


async def test_at_1366_px_every_navigation_entry_is_on_one_line(
    gw: GatewayClient, receiver: Receiver, site: str, browser: Browser
) -> None:
    page = await signed_in(browser, site, "admin")
    await page.goto(f"{site}/admin/")
    lines = await page.eval_on_selector_all("nav.side a", "links => links.map(a => [a.textContent.trim(), a.getClientRects().length, a.getBoundingClientRect().height])")
    assert len(lines) > 8
    heights = {round(h) for _, _, h in lines}
    assert all(n == 1 for _, n, _ in lines) and max(heights) < 2 * min(heights), lines
    sections = await page.eval_on_selector_all("nav.side h2", "hs => hs.map(h => h.textContent.trim())")
    assert sections[:5] == ["Traffic", "Destinations", "Data", "People", "Settings"]
    await shot(page, "laptop-dashboard")


async def test_a_checkbox_sits_beside_its_label(gw: GatewayClient, site: str, browser: Browser) -> None:
    page = await signed_in(browser, site, "admin")
    await page.goto(f"{site}/admin/dhis2/mappings")
    box = await page.locator("input[name=dry_run]").bounding_box()
    label = await page.locator("label:has(input[name=dry_run])").bounding_box()
    assert box is not None and label is not None
    assert label["height"] < 2 * box["height"] + 8  # one line, not the box above its text


async def test_the_dark_scheme_follows_the_system_and_keeps_contrast(
    gw: GatewayClient, receiver: Receiver, site: str, browser: Browser
) -> None:
    await seeded(gw, receiver)
    page = await signed_in(browser, site, "operator")
    await page.emulate_media(color_scheme="dark")
    for path in ("/admin/", "/admin/deliveries", "/admin/messages", "/admin/destinations", "/admin/logs"):
        await page.goto(site + path)
        background = await page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        red, green, blue = (int(v) for v in background[background.index("(") + 1 : background.index(")")].split(",")[:3])
        assert red + green + blue < 150, (path, background)
        assert await violations(page) == [], path
    await shot(page, "dark-destinations")
