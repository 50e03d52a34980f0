"""The Devices and alerts page in a real browser: register a device and see its key once, acknowledge an alert."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from core.testing import GatewayClient
from tests.console.test_browser import logged_in, shot
from tests.console.test_devices_page import gw
from tests.devices.device_steps import reading, upload

__all__ = ["gw"]  # fixtures shared by import
pytestmark = pytest.mark.stacks("sqlite")


async def test_an_operator_registers_a_device_sees_its_key_once_and_acknowledges_its_alert(
    gw: GatewayClient, site: str, browser: Browser
) -> None:
    page = await logged_in(browser, site, "operator")
    await page.goto(f"{site}/admin/devices")
    await expect(page).to_have_url(re.compile(r"/admin/devices/$"))
    await page.fill("input[name=serial]", "OX-2231-0042")
    await page.select_option("#register-form select[name=type]", "pulse_oximeter")
    await page.fill("input[name=model]", "PX-100")
    await page.fill("#register-form input[name=facility]", "FAC-001")
    await page.fill("input[name=subject]", "P-000123")
    await page.click("#register-button")
    await expect(page.locator(".flash.secret")).to_contain_text("shown this once")
    key = await page.locator("#secret").inner_text()
    assert key.startswith("sb_")
    await shot(page, "devices-registered-key")
    await page.click("text=← Devices")
    await page.click("#devices a:has-text('OX-2231-0042')")  # the device's page, again: no key now
    await expect(page.locator("h1")).to_contain_text("OX-2231-0042")
    await expect(page.locator("#secret")).to_have_count(0)
    assert key not in await page.content()

    await upload(gw, key, [reading("r-1", value=84, subject="P-000123")])
    await page.goto(f"{site}/admin/devices/alerts?state=open")
    row = page.locator("#alerts tr.alert", has_text="P-000123")
    await expect(row).to_contain_text("critical")
    await expect(row).to_contain_text("84 %")
    await shot(page, "devices-alerts-open")
    await row.locator("button.acknowledge").click()
    await expect(row).to_contain_text("acknowledged by user:operator")  # swapped in place
    await expect(row.locator("button.acknowledge")).to_have_count(0)
    await shot(page, "devices-alert-acknowledged")
