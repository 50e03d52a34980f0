"""The console's Reports page (the reports plugin's ``switchboard_admin_pages``), over HTTP."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from core import ReportType, hookimpl
from core.auth.users import create_user
from core.testing import GatewayClient, user_headers, wait_until
from plugins.reports import scheduler, service
from plugins.reports.models import report_schedules, reports
from tests.console.conftest import PASSWORD, XSS, log_in
from tests.reports.report_steps import REPORTS

PAGE = "/admin/reports/"
HTMX = {"HX-Request": "true"}
CONFIG_SCHEDULE = {"name": "weekly", "every": "week", "type": "failures", "destination": "crm"}


class FacilityVisits(ReportType):
    """Another plugin's report type, with a param of its own besides the period."""

    name = "facility_visits"
    title = "Visits per facility"
    columns = ("facility", "visits")

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"facility": str(params.get("facility", "")), **{k: v for k, v in params.items() if k != "facility"}}

    async def rows(self, gateway: Any, params: dict[str, Any]) -> Any:
        yield [params["facility"], 3]


class Gated(ReportType):
    """A report that is not done until the test opens its gate: it stays pending or running till then."""

    name = "gated"
    title = "Gated"
    columns = ("n",)

    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    async def rows(self, gateway: Any, params: dict[str, Any]) -> Any:
        await self.gate.wait()
        yield [1]


class ExtraTypes:
    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate

    @hookimpl
    def switchboard_report_types(self) -> list[ReportType]:
        return [FacilityVisits(), Gated(self.gate)]


@pytest.fixture
def gate() -> asyncio.Event:
    return asyncio.Event()


@pytest.fixture
async def gw(app_client: Callable[..., Any], gate: asyncio.Event) -> AsyncIterator[GatewayClient]:
    reports_config = {"schedules": [CONFIG_SCHEDULE]}
    async with app_client(
        plugins={"reports": reports_config, "http": {"destinations": {"crm": {"url": "http://127.0.0.1:9/"}}}},
        extra_plugins=[("extra_types", ExtraTypes(gate))],
    ) as client:
        for role in ("viewer", "operator", "admin"):
            await create_user(client.gateway, role, PASSWORD, role)
        await create_user(client.gateway, "other", PASSWORD, "operator")
        yield client


def last_week() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"start": str(today - timedelta(days=7)), "end": str(today + timedelta(days=1))}


async def stored(gw: GatewayClient) -> list[Any]:
    async with gw.gateway.db.transaction() as conn:
        return list((await conn.execute(sa.select(reports).order_by(reports.c.id))).all())


async def request_report(gw: GatewayClient, token: str, **fields: str) -> Any:
    form = {"csrf_token": token, "type": "failures", "format": "csv", "period": ""} | last_week() | fields
    return await gw.post(PAGE + "request", data=form)


async def requested(gw: GatewayClient, token: str, **fields: str) -> str:
    """Request a report through the form; its id."""
    before = {r.id for r in await stored(gw)}
    r = await request_report(gw, token, **fields)
    assert r.status_code == 303 and r.headers["location"] == PAGE, r.text
    (new,) = [row for row in await stored(gw) if row.id not in before]
    return str(new.id)


async def generated(gw: GatewayClient, report_id: str) -> None:
    """Generate what is pending here (the stack's worker may be elsewhere) and wait until it ended."""
    await service.pick_up(gw.gateway, older_than=0, run=True)

    async def ended() -> bool:
        row = await service.get(gw.gateway, uuid.UUID(report_id), None)
        return row.status in ("completed", "failed")

    await wait_until(ended, message=f"report {report_id} to end")


async def test_the_page_is_in_the_navigation_and_offers_every_type_the_caller_may_ask_for(gw: GatewayClient) -> None:
    await log_in(gw, "operator")
    assert 'href="/admin/reports"' in (await gw.get("/admin/")).text
    page = await gw.get(PAGE)
    assert page.status_code == 200
    assert 'value="failures"' in page.text and 'value="facility_visits"' in page.text  # another plugin's type
    assert 'value="audit"' not in page.text  # for admins only
    await log_in(gw, "admin")
    assert 'value="audit"' in (await gw.get(PAGE)).text


async def test_an_operator_requests_a_report_and_its_row_polls_while_it_is_not_done(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    report_id = await requested(gw, token, type="gated", format="xlsx")
    (row,) = await stored(gw)
    assert (row.type, row.format, row.owner_label) == ("gated", "xlsx", "user:operator")
    page = await gw.get(PAGE)
    assert f'id="report-{report_id}"' in page.text
    assert f'hx-get="/admin/reports/{report_id}" hx-trigger="every 2s"' in page.text


async def test_a_relative_period_and_another_types_params_are_passed_on(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    await requested(gw, token, type="facility_visits", period="last_day", start="", end="", more='{"facility": "F-1"}')
    (row,) = await stored(gw)
    assert row.params["facility"] == "F-1" and row.params["period"] == "last_day"


async def test_a_polled_row_is_the_row_alone_and_stops_polling_with_a_download_link_when_completed(
    gw: GatewayClient, gate: asyncio.Event
) -> None:
    token = await log_in(gw, "operator")
    report_id = await requested(gw, token, type="gated")
    pending = await gw.get(PAGE + report_id, headers=HTMX)
    assert pending.status_code == 200 and "<html" not in pending.text
    assert pending.text.strip().startswith(f'<tr id="report-{report_id}"') and "every 2s" in pending.text
    gate.set()
    await generated(gw, report_id)
    done = await gw.get(PAGE + report_id, headers=HTMX)
    assert "s-completed" in done.text and "hx-trigger" not in done.text
    link = re.search(r'<a href="([^"]+)" class="download"', done.text)
    assert link, done.text
    file = await gw.get(link.group(1).replace("&amp;", "&"))
    assert file.status_code == 200 and file.text.startswith("n")


async def test_a_failed_report_shows_its_error_as_text(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    report_id = await requested(gw, token)
    async with gw.gateway.db.transaction() as conn:
        await conn.execute(reports.update().values(status="failed", error=XSS, failed_at=datetime.now(UTC)))
    row = await gw.get(PAGE + report_id, headers=HTMX)
    assert "s-failed" in row.text and XSS not in row.text and "&lt;script&gt;" in row.text
    assert "hx-trigger" not in row.text


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        ({"start": "2026-02-01", "end": "2026-01-01"}, 'id="error-end"'),
        ({"start": "2026-13-01"}, 'id="error-start"'),
        ({"format": "pdf"}, 'id="error-format"'),
        ({"type": "nonsense"}, 'id="error-type"'),
        ({"start": "", "end": ""}, 'id="request-problem"'),
        ({"more": "{not json"}, 'id="request-problem"'),
        ({"more": "[1, 2]"}, 'id="request-problem"'),
    ],
)
async def test_a_bad_request_shows_the_field_error_by_its_input_and_creates_nothing(
    gw: GatewayClient, fields: dict[str, str], shown: str
) -> None:
    token = await log_in(gw, "operator")
    r = await request_report(gw, token, **fields)
    assert r.status_code == 422 and shown in r.text
    assert await stored(gw) == []


async def test_a_bad_request_keeps_what_was_typed(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    r = await request_report(gw, token, start="2026-02-01", end="2026-01-01", format="json")
    assert 'value="2026-02-01"' in r.text and '<option value="json" selected>' in r.text


async def test_a_viewer_sees_no_form_nor_buttons_and_is_refused_every_change(gw: GatewayClient) -> None:
    operator = await user_headers(gw.gateway, "operator")
    r = await gw.post(REPORTS, json={"type": "failures", "format": "csv", "params": last_week()}, headers=operator)
    report_id = r.json()["id"]
    token = await log_in(gw, "viewer")
    page = await gw.get(PAGE)
    assert page.status_code == 200 and 'id="request-form"' not in page.text and "Delete" not in page.text
    assert (await request_report(gw, token)).status_code == 403
    assert (await gw.post(f"{PAGE}{report_id}/delete", data={"csrf_token": token})).status_code == 403
    assert len(await stored(gw)) == 1


async def test_a_form_without_its_csrf_token_is_refused(gw: GatewayClient) -> None:
    await log_in(gw, "operator")
    r = await gw.post(PAGE + "request", data={"type": "failures", "format": "csv", **last_week()})
    assert r.status_code == 403
    assert await stored(gw) == []


async def test_an_operator_sees_their_own_reports_and_an_admin_sees_everyones(gw: GatewayClient) -> None:
    mine = await requested(gw, await log_in(gw, "operator"))
    theirs = await requested(gw, await log_in(gw, "other"))
    page = await gw.get(PAGE)
    assert f"report-{theirs}" in page.text and f"report-{mine}" not in page.text
    assert (await gw.get(PAGE + mine)).status_code == 404
    assert (await gw.get(PAGE + mine, headers=HTMX)).text == ""
    token = await log_in(gw, "other")
    assert (await gw.post(f"{PAGE}{mine}/delete", data={"csrf_token": token})).status_code == 404
    await log_in(gw, "admin")
    page = await gw.get(PAGE)
    assert f"report-{theirs}" in page.text and f"report-{mine}" in page.text


async def test_the_owner_deletes_a_report_and_is_sent_back_to_the_list(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    report_id = await requested(gw, token)
    await generated(gw, report_id)
    r = await gw.post(f"{PAGE}{report_id}/delete", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == PAGE
    assert await stored(gw) == []


async def test_an_htmx_delete_answers_an_empty_row(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    report_id = await requested(gw, token)
    r = await gw.post(f"{PAGE}{report_id}/delete", headers=HTMX | {"X-CSRF-Token": token})
    assert r.status_code == 200 and r.text == ""
    assert await stored(gw) == []


async def test_a_polled_row_of_a_deleted_report_answers_nothing_so_the_row_goes_and_stops_polling(
    gw: GatewayClient,
) -> None:
    token = await log_in(gw, "operator")
    report_id = await requested(gw, token, type="gated")
    assert (await gw.post(f"{PAGE}{report_id}/delete", data={"csrf_token": token})).status_code == 303
    r = await gw.get(PAGE + report_id, headers=HTMX)
    assert r.status_code == 200 and r.text == ""


async def test_an_operator_may_not_ask_for_an_admins_report_type(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    assert (await request_report(gw, token, type="audit")).status_code == 403
    assert await stored(gw) == []


async def test_the_list_is_paged_by_keyset(app_client: Callable[..., Any]) -> None:
    async with app_client(plugins={"admin": {"page_size": 5}}) as gw:
        await create_user(gw.gateway, "operator", PASSWORD, "operator")
        token = await log_in(gw, "operator")
        ids = [await requested(gw, token) for _ in range(6)]
        first = await gw.get(PAGE)
        assert all(f"report-{i}" in first.text for i in ids[1:]) and f"report-{ids[0]}" not in first.text
        next_url = re.search(r'href="(/admin/reports/\?cursor=[^"]+)"', first.text)
        assert next_url
        second = await gw.get(next_url.group(1), headers=HTMX)
        assert f"report-{ids[0]}" in second.text and "<html" not in second.text and 'id="next-page"' not in second.text
        assert (await gw.get(PAGE, params={"cursor": "nonsense"})).status_code == 422


async def _api_schedule(gw: GatewayClient, name: str = "daily") -> None:
    now = datetime.now(UTC)
    definition = {"name": name, "every": "day", "type": "failures", "destination": "crm", "recipients": []}
    async with gw.gateway.db.transaction() as conn:
        await conn.execute(
            report_schedules.insert().values(name=name, definition=definition, created_at=now, updated_at=now)
        )


async def test_only_an_admin_removes_a_schedule_added_through_the_api(gw: GatewayClient) -> None:
    await _api_schedule(gw)
    token = await log_in(gw, "operator")
    page = await gw.get(PAGE)
    assert 'id="schedule-daily"' in page.text and "/admin/reports/schedules/daily/delete" not in page.text
    assert (await gw.post(PAGE + "schedules/daily/delete", data={"csrf_token": token})).status_code == 403
    token = await log_in(gw, "admin")
    page = await gw.get(PAGE)
    assert 'id="schedule-weekly"' in page.text and 'id="schedule-daily"' in page.text
    assert "/admin/reports/schedules/daily/delete" in page.text
    assert "/admin/reports/schedules/weekly/delete" not in page.text  # the config file's: read-only
    assert (await gw.post(PAGE + "schedules/weekly/delete", data={"csrf_token": token})).status_code == 409
    r = await gw.post(PAGE + "schedules/daily/delete", data={"csrf_token": token})
    assert r.status_code == 303
    assert 'id="schedule-daily"' not in (await gw.get(PAGE)).text


def schedule_row(html: str, name: str) -> str:
    match = re.search(rf'<tr id="schedule-{name}".*?</tr>', html, re.S)
    assert match, f"no row for schedule {name}"
    return match.group(0)


async def test_a_viewer_sees_the_schedules_read_only_and_is_refused_every_change(gw: GatewayClient) -> None:
    token = await log_in(gw, "viewer")
    row = schedule_row((await gw.get(PAGE)).text, "weekly")
    assert "enabled" in row and "never" in row
    assert "Run now" not in row and "Disable" not in row and "<th>Recipients</th>" not in (await gw.get(PAGE)).text
    for action in ("run", "disable", "enable", "delete"):
        r = await gw.post(PAGE + f"schedules/weekly/{action}", data={"csrf_token": token})
        assert r.status_code == 403, action
    assert await stored(gw) == []


async def test_an_operator_runs_a_schedule_now_and_its_row_shows_the_run_and_polls(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    row = schedule_row((await gw.get(PAGE)).text, "weekly")
    assert "Run now" in row and "Disable" not in row
    assert (await gw.post(PAGE + "schedules/weekly/disable", data={"csrf_token": token})).status_code == 403
    r = await gw.post(PAGE + "schedules/weekly/run", data={"csrf_token": token}, headers=HTMX)
    assert r.status_code == 200 and "<html" not in r.text
    [report] = await stored(gw)
    assert report.owner == "schedule:weekly"
    row = schedule_row(r.text, "weekly")
    assert "(run now)" in row and 'hx-trigger="every 2s"' in row
    await generated(gw, str(report.id))

    async def delivered() -> bool:
        await scheduler.deliver_ready(gw.gateway)
        polled = await gw.get(PAGE + "schedules/weekly", headers=HTMX)
        return "every 2s" not in polled.text and "delivered" in polled.text

    await wait_until(delivered, message="the run to be delivered")
    polled = (await gw.get(PAGE + "schedules/weekly", headers=HTMX)).text
    assert "0 rows" in polled and "report-link" not in polled  # the report itself: admins only


async def test_without_htmx_a_run_goes_back_to_the_list(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    r = await gw.post(PAGE + "schedules/weekly/run", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == PAGE + "#schedules"
    [report] = await stored(gw)
    await generated(gw, str(report.id))  # not left mid-way when the app stops
    assert (await gw.get(PAGE + "schedules/weekly")).status_code == 303


async def test_an_admin_disables_and_enables_a_config_schedule_in_place(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    page = (await gw.get(PAGE)).text
    assert "<th>Recipients</th>" in page and "Disable" in schedule_row(page, "weekly")
    r = await gw.post(PAGE + "schedules/weekly/disable", data={"csrf_token": token}, headers=HTMX)
    assert r.status_code == 200
    row = schedule_row(r.text, "weekly")
    assert "disabled" in row and "/admin/reports/schedules/weekly/enable" in row and "—" in row  # no next run
    r = await gw.post(PAGE + "schedules/weekly/enable", data={"csrf_token": token})
    assert r.status_code == 303
    assert "/admin/reports/schedules/weekly/disable" in schedule_row((await gw.get(PAGE)).text, "weekly")


async def test_schedule_forms_without_their_csrf_token_are_refused(gw: GatewayClient) -> None:
    await log_in(gw, "admin")
    for action in ("run", "disable"):
        assert (await gw.post(PAGE + f"schedules/weekly/{action}", data={})).status_code == 403
    assert await stored(gw) == []


async def test_an_unknown_schedule_is_a_404_in_the_console(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    for action in ("run", "disable", "enable"):
        assert (await gw.post(PAGE + f"schedules/ghost/{action}", data={"csrf_token": token})).status_code == 404
    assert (await gw.get(PAGE + "schedules/ghost", headers=HTMX)).status_code == 404
