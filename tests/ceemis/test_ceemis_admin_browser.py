"""The CEEMIS case lookup in a real browser against a live server."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from core.auth.users import create_user
from tests.ceemis.cases import new_case, post_case
from tests.console.conftest import PASSWORD
from tests.support.browser import logged_in, shot
from tests.support.dhis2 import settled
from tests.support.serving import serving


async def test_a_case_is_looked_up_in_place_and_an_unknown_one_is_not_found(
    ceemis_app, ceemis, browser: Browser
) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app() as client, serving(client.app) as site:
        await post_case(client, new_case())
        await post_case(client, {"ref": "HL-1001", "status": "closed", "update_id": "u-1"})
        assert await settled(client.gateway) == {"delivered": 2}
        await create_user(client.gateway, "viewer", PASSWORD, "viewer")
        page = await logged_in(browser, site, "viewer", PASSWORD, "/admin/ceemis/cases/")
        await expect(page.locator("#recent tbody tr")).to_have_count(1)
        await page.fill("input[name=reference]", "CALL-HL-1001")
        await page.click("form.filters button[type=submit]")
        await expect(page).to_have_url(re.compile(r"reference=CALL-HL-1001"))
        await expect(page.locator("#ceemis-id")).to_have_text("MGLSD000001")
        await expect(page.locator("table.updates tbody tr")).to_have_count(1)
        await expect(page.locator("table.updates")).to_contain_text("closed")
        await shot(page, "ceemis-case")
        await page.fill("input[name=reference]", "HL-9999")
        await page.click("form.filters button[type=submit]")
        await expect(page.locator("#not-found")).to_contain_text("No case is known by")
        await shot(page, "ceemis-case-not-found")
        await page.go_back()
        await expect(page).to_have_url(re.compile(r"reference=CALL-HL-1001"))
