"""The DHIS2 mappings page in a real browser: an operator uploads a file with an error and sees the row."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from core.testing import GatewayClient
from tests.console.test_browser import logged_in, shot
from tests.dhis2.test_dhis2_admin_page import BAD_ROW, gw
from tests.support.mapping_files import ROWS, csv_bytes
from tests.support.serving import serving

__all__ = ["gw"]  # fixtures shared by import
pytestmark = pytest.mark.stacks("sqlite")


@pytest.fixture
async def site(gw: GatewayClient) -> AsyncIterator[str]:
    async with serving(gw.app) as url:
        yield url


async def test_an_operator_uploads_a_file_with_an_error_and_sees_the_row_error(
    gw: GatewayClient, site: str, browser: Browser, tmp_path: Path
) -> None:
    mapping_file = tmp_path / "anc.csv"
    mapping_file.write_bytes(csv_bytes([*ROWS, BAD_ROW]))
    page = await logged_in(browser, site, "operator")
    await page.goto(f"{site}/admin/dhis2/mappings")
    await expect(page).to_have_url(re.compile(r"/admin/dhis2/mappings/"))
    await page.set_input_files("input[name=file]", str(mapping_file))
    await page.click("#upload-button")
    errors = page.locator("#upload-errors tbody tr", has_text="dataset")
    await expect(errors.first).to_contain_text("6")
    await expect(errors.first).to_contain_text("not a DHIS2 uid")
    await expect(page.locator("#mappings")).to_contain_text("No mappings match.")
    await shot(page, "dhis2-mappings-upload-error")
