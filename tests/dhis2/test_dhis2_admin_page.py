"""The console's DHIS2 mappings page (contributed through ``switchboard_admin_pages``), over HTTP."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import sqlalchemy as sa

from core.auth.users import create_user
from core.testing import GatewayClient
from plugins.dhis2.models import data_value_mappings
from tests.console.conftest import PASSWORD, XSS, log_in
from tests.dhis2.conftest import dhis2_config
from tests.fakes.dhis2 import FakeDHIS2
from tests.support.dhis2 import import_mappings
from tests.support.mapping_files import ROWS, csv_bytes, upload, xlsx_bytes

PAGE = "/admin/dhis2/mappings/"
BAD_ROW = ["ANC4", "de", "ANC 4th visit", "", "not-a-uid", "", "", "", "", "national", "hmis"]


@pytest.fixture
async def gw(dhis2_app: Callable[..., Any]) -> AsyncIterator[GatewayClient]:
    async with dhis2_app() as client:
        for role in ("viewer", "operator"):
            await create_user(client.gateway, role, PASSWORD, role)
        yield client


async def stored_codes(gw: GatewayClient) -> list[str]:
    async with gw.gateway.db.transaction() as conn:
        return list((await conn.execute(sa.select(data_value_mappings.c.code).order_by("code"))).scalars())


async def test_the_page_is_in_the_console_navigation_and_lists_the_mappings(gw: GatewayClient) -> None:
    await import_mappings(gw)
    await log_in(gw, "viewer")
    assert 'href="/admin/dhis2/mappings"' in (await gw.get("/admin/")).text
    page = await gw.get(PAGE)
    assert page.status_code == 200
    assert all(code in page.text for code in ("ANC1_FIXED", "ANC1_OUTREACH", "ANC2_FIXED", "ANC3"))


async def test_a_search_answers_htmx_with_the_results_only(gw: GatewayClient) -> None:
    await import_mappings(gw)
    await log_in(gw, "viewer")
    r = await gw.get(PAGE, params={"q": "ANC1"}, headers={"HX-Request": "true"})
    assert "<html" not in r.text and "ANC1_FIXED" in r.text and "ANC1_OUTREACH" in r.text
    assert "ANC2_FIXED" not in r.text and "ANC3" not in r.text
    by_name = await gw.get(PAGE, params={"q": "2nd visit"}, headers={"HX-Request": "true"})
    assert "ANC2_FIXED" in by_name.text and "ANC1_FIXED" not in by_name.text


async def test_the_list_is_paged_by_keyset(app_client: Callable[..., Any], dhis2: FakeDHIS2) -> None:
    rows = [[f"CODE{i}", *ROWS[0][1:]] for i in range(7)]
    async with app_client(plugins={"dhis2": dhis2_config(dhis2), "admin": {"page_size": 5}}) as gw:
        await create_user(gw.gateway, "viewer", PASSWORD, "viewer")
        await import_mappings(gw, rows)
        await log_in(gw, "viewer")
        first = await gw.get(PAGE)
        assert "CODE4" in first.text and "CODE5" not in first.text
        assert "7 mappings" in first.text and 'rel="prev"' not in first.text

        next_url = re.search(r'href="(/admin/dhis2/mappings/\?[^"]*cursor=\d+)"[^>]*rel="next">Next', first.text)
        assert next_url
        second = await gw.get(next_url.group(1).replace("&amp;", "&"))
        assert "CODE5" in second.text and "CODE6" in second.text and "CODE4" not in second.text
        assert 'rel="next"' not in second.text and "7 mappings" in second.text and ">First</a>" in second.text
        previous = re.search(r'href="(/admin/dhis2/mappings/\?[^"]*before=\d+)"[^>]*rel="prev">', second.text)
        assert previous  # back the way it came
        back = await gw.get(previous.group(1).replace("&amp;", "&"))
        assert "CODE0" in back.text and "CODE4" in back.text and "CODE5" not in back.text


async def test_a_viewer_sees_no_upload_form_and_is_refused_an_upload(gw: GatewayClient) -> None:
    token = await log_in(gw, "viewer")
    page = await gw.get(PAGE)
    assert "/admin/dhis2/mappings/upload" not in page.text
    r = await gw.post(PAGE + "upload", data={"csrf_token": token}, files=upload(csv_bytes(ROWS)))
    assert r.status_code == 403
    assert await stored_codes(gw) == []


async def test_an_upload_without_the_csrf_token_is_refused_and_imports_nothing(gw: GatewayClient) -> None:
    await log_in(gw, "operator")
    r = await gw.post(PAGE + "upload", files=upload(csv_bytes(ROWS)))
    assert r.status_code == 403
    assert await stored_codes(gw) == []


async def test_an_operator_uploads_a_file_and_sees_what_was_imported(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    r = await gw.post(PAGE + "upload", data={"csrf_token": token}, files=upload(xlsx_bytes(ROWS), "anc.xlsx"))
    assert r.status_code == 200 and 'id="upload-outcome"' in r.text
    assert "4 created" in r.text
    assert await stored_codes(gw) == ["ANC1_FIXED", "ANC1_OUTREACH", "ANC2_FIXED", "ANC3"]


async def test_a_dry_run_previews_the_changes_and_imports_nothing(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    r = await gw.post(PAGE + "upload", data={"csrf_token": token, "dry_run": "1"}, files=upload(csv_bytes(ROWS)))
    assert r.status_code == 200 and "a dry run: nothing was imported" in r.text and "4 to create" in r.text
    assert "ANC2_FIXED" in r.text  # the preview lists each change
    assert await stored_codes(gw) == []


async def test_a_file_with_an_error_row_shows_its_row_and_column_and_imports_nothing(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    r = await gw.post(PAGE + "upload", data={"csrf_token": token}, files=upload(csv_bytes([*ROWS, BAD_ROW])))
    assert r.status_code == 422
    assert 'id="upload-errors"' in r.text
    assert '<td class="num">6</td><td>dataset</td><td>E6</td>' in r.text
    assert "not a DHIS2 uid" in r.text
    assert await stored_codes(gw) == []


async def test_an_upload_without_a_file_says_so(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    r = await gw.post(PAGE + "upload", data={"csrf_token": token}, files={"other": ("x", b"", "text/plain")})
    assert r.status_code == 422 and "choose a CSV or XLSX file" in r.text


async def test_cell_text_from_a_file_is_shown_as_text(gw: GatewayClient) -> None:
    row = list(ROWS[0])
    row[2] = XSS
    await import_mappings(gw, [row])
    await log_in(gw, "viewer")
    page = await gw.get(PAGE)
    assert XSS not in page.text and "&lt;script&gt;" in page.text


async def test_the_template_and_the_exports_download_for_a_viewer(gw: GatewayClient) -> None:
    await import_mappings(gw)
    await log_in(gw, "viewer")
    template = await gw.get(PAGE + "template.xlsx")
    assert template.status_code == 200 and template.content[:2] == b"PK"
    export = await gw.get(PAGE + "export.csv", params={"dataset": ROWS[0][4]})
    assert export.status_code == 200 and "ANC1_FIXED" in export.text
    assert (await gw.get(PAGE + "export.xlsx")).content[:2] == b"PK"
    org_units = await gw.get(PAGE + "template.xlsx", params={"kind": "org_units"})
    assert org_units.status_code == 200


async def test_an_unknown_mapping_table_is_refused(gw: GatewayClient) -> None:
    await log_in(gw, "viewer")
    assert (await gw.get(PAGE, params={"kind": "nope"})).status_code == 422


async def test_the_org_unit_table_is_listed_on_its_tab(gw: GatewayClient) -> None:
    await log_in(gw, "viewer")
    page = await gw.get(PAGE, params={"kind": "org_units"})
    assert page.status_code == 200 and "org unit" in page.text
