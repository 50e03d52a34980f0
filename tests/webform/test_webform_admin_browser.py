"""Web-form organisations in a real browser against a live server."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from core.auth.users import create_user
from tests.console.conftest import PASSWORD
from tests.support.browser import logged_in, shot
from tests.support.serving import serving


async def test_an_admin_sees_a_field_error_then_adds_the_organisation(webform_app, browser: Browser) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client, serving(client.app) as site:
        await create_user(client.gateway, "admin", PASSWORD, "admin")
        page = await logged_in(browser, site, "admin", PASSWORD, "/admin/webform/organisations/")
        await page.fill("input[name=slug]", "unicef")
        await page.fill("input[name=name]", "UNICEF")
        await page.fill("textarea[name=origins]", "forms.unicef.org")
        await page.click("#save")
        await expect(page.locator("#error-origins")).to_contain_text("is not an origin")
        await expect(page.locator("textarea[name=origins]")).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#org-unicef")).to_have_count(0)
        await shot(page, "webform-organisation-error")
        await page.fill("textarea[name=origins]", "https://forms.unicef.org")
        await page.click("#save")
        await expect(page.locator("#done")).to_contain_text("unicef added")
        await expect(page.locator("#org-unicef")).to_contain_text("https://forms.unicef.org")
        await shot(page, "webform-organisations")
