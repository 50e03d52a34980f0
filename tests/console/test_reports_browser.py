"""The Reports page in a real browser: an operator requests a report, watches it end, and downloads it."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Browser, expect

from core.testing import GatewayClient
from tests.console.test_browser import logged_in, shot
from tests.console.test_reports_page import gate, gw

__all__ = ["gate", "gw"]  # fixtures shared by import
pytestmark = pytest.mark.stacks("sqlite")  # the in-process worker generates the report by itself


async def test_an_operator_requests_a_report_sees_it_complete_and_downloads_it(
    gw: GatewayClient, site: str, browser: Browser, gate: asyncio.Event
) -> None:
    page = await logged_in(browser, site, "operator")
    await page.goto(f"{site}/admin/reports")
    await expect(page).to_have_url(re.compile(r"/admin/reports/$"))
    await page.select_option("select[name=type]", "gated")  # ends when the test says so
    await page.select_option("select[name=format]", "csv")
    await page.select_option("select[name=period]", "last_week")
    await page.click("#request-button")
    row = page.locator("#reports tr.report").first
    await expect(row.locator(".status")).to_have_text(re.compile(r"pending|running"))
    await expect(row).to_have_attribute("hx-trigger", "every 2s")
    await shot(page, "reports-running")
    gate.set()
    await expect(row.locator(".status")).to_have_text("completed", timeout=15_000)  # polled in place
    await expect(row).not_to_have_attribute("hx-trigger", "every 2s")
    await shot(page, "reports-completed")
    async with page.expect_download() as info:
        await row.locator("a.download").click()
    download = await info.value
    assert re.fullmatch(r"gated-\d{8}-\d{6}-[0-9a-f]{8}\.csv", download.suggested_filename)
    path = await download.path()
    assert path.read_text().splitlines()[0] == "n"


async def test_an_operator_runs_a_schedule_now_and_sees_its_run_complete(
    gw: GatewayClient, site: str, browser: Browser
) -> None:
    page = await logged_in(browser, site, "operator")
    await page.goto(f"{site}/admin/reports")
    row = page.locator("#schedule-weekly")
    await expect(row.locator(".state")).to_have_text("enabled")
    await expect(row.locator("button.disable")).to_have_count(0)  # admins only
    await row.locator("button.run-now").click()
    run = page.locator("#schedule-weekly .last-runs .run").first
    await expect(run).to_contain_text("(run now)")
    await expect(run.locator(".status")).to_have_text("completed", timeout=15_000)  # polled in place
    await expect(run.locator(".delivery")).to_have_text("delivered", timeout=15_000)
    await expect(page.locator("#schedule-weekly")).not_to_have_attribute("hx-trigger", "every 2s")
    await expect(page).to_have_url(re.compile(r"/admin/reports/?$"))  # swapped in place, not reloaded
    await shot(page, "reports-schedule-run-now")
