"""Destructive actions in a real browser ask first; declining changes nothing."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Dialog, Page, expect

from core.auth.api_keys import create_key, list_keys
from core.auth.users import find_user
from core.testing import GatewayClient
from tests.console.conftest import PASSWORD, dead_delivery
from tests.support.browser import logged_in
from tests.support.receiver import Receiver


def answering(page: Page, accept: bool, questions: list[str]) -> None:
    async def answer(dialog: Dialog) -> None:
        questions.append(dialog.message)
        await (dialog.accept() if accept else dialog.dismiss())

    page.on("dialog", answer)


async def test_revoking_a_key_asks_first_and_declining_keeps_it(gw: GatewayClient, site: str, browser: Browser) -> None:
    await create_key(gw.gateway, "crm-sync", ["deliveries:read"])
    page = await logged_in(browser, site, "admin", PASSWORD, "/admin/keys")
    questions: list[str] = []
    answering(page, False, questions)
    await page.click("button:has-text('Revoke')")
    await expect(page.locator("button:has-text('Revoke')")).to_have_count(1)
    assert questions and "crm-sync" in questions[0]
    rows, _ = await list_keys(gw.gateway, include_revoked=True, limit=10)
    assert rows[0].revoked_at is None


@pytest.mark.parametrize("button", ["Deactivate", "Reset password"])
async def test_a_user_action_that_locks_someone_out_asks_first(
    gw: GatewayClient, site: str, browser: Browser, button: str
) -> None:
    before = await find_user(gw.gateway, "viewer")
    page = await logged_in(browser, site, "admin", PASSWORD, "/admin/users")
    questions: list[str] = []
    answering(page, False, questions)
    row = page.locator("tbody tr").filter(has=page.locator("td:first-child", has_text=re.compile(r"^viewer")))
    await row.locator(f"button:has-text('{button}')").click()
    await expect(page.locator("#notice")).to_have_count(0)
    assert questions and "viewer" in questions[0]
    after = await find_user(gw.gateway, "viewer")
    assert after is not None and before is not None
    assert (after.status, after.password_hash) == (before.status, before.password_hash)


async def test_deleting_a_delivery_asks_first_and_accepting_deletes_it(
    gw: GatewayClient, receiver: Receiver, site: str, browser: Browser
) -> None:
    delivery_id = await dead_delivery(gw, receiver)
    page = await logged_in(browser, site, "operator", PASSWORD, f"/admin/deliveries/{delivery_id}")
    questions: list[str] = []
    answering(page, True, questions)
    await page.click("button:has-text('Delete')")
    await expect(page).to_have_url(f"{site}/admin/deliveries")
    assert questions and "cannot be undone" in questions[0]
