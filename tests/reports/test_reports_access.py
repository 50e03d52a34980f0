"""Who may ask for and see which reports, what bad requests get, and what links allow."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from core.testing import api_key_headers, user_headers
from plugins.reports import links, service
from plugins.reports.models import reports
from tests.reports.report_steps import REPORTS, ask, finished, period


async def test_a_viewer_may_not_ask_for_a_report(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        viewer = await user_headers(client.gateway, "viewer")
        body = {"type": "failures", "format": "csv", "params": period()}
        assert (await client.post(REPORTS, json=body, headers=viewer)).status_code == 403


async def test_the_audit_extract_is_for_admins_only(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        operator = await user_headers(client.gateway, "operator")
        key = await api_key_headers(client.gateway, ["reports:write"])
        body = {"type": "audit", "format": "csv", "params": period()}
        assert (await client.post(REPORTS, json=body, headers=operator)).status_code == 403
        assert (await client.post(REPORTS, json=body, headers=key)).status_code == 403


async def test_someone_elses_report_is_not_found_but_an_admin_sees_it(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        owner = await user_headers(client.gateway, "operator")
        other = await user_headers(client.gateway, "operator")
        admin = await user_headers(client.gateway, "admin")
        report_id = await ask(client, owner, "failures")
        assert (await client.get(f"{REPORTS}/{report_id}", headers=owner)).status_code == 200
        assert (await client.get(f"{REPORTS}/{report_id}", headers=other)).status_code == 404
        assert (await client.delete(f"{REPORTS}/{report_id}", headers=other)).status_code == 404
        assert (await client.get(f"{REPORTS}/{report_id}", headers=admin)).status_code == 200


async def test_the_list_holds_the_callers_reports_and_an_admins_holds_all(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        owner = await user_headers(client.gateway, "operator")
        key = await api_key_headers(client.gateway, ["reports:write"])
        admin = await user_headers(client.gateway, "admin")
        mine = [await ask(client, owner, "failures") for _ in range(3)]
        keys = await ask(client, key, "message_volume")
        first = (await client.get(REPORTS, params={"limit": 2}, headers=owner)).json()
        rest = (await client.get(REPORTS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=owner)).json()
        assert [r["id"] for r in first["items"] + rest["items"]] == mine[::-1]
        assert rest["next_cursor"] is None
        assert [r["id"] for r in (await client.get(REPORTS, headers=key)).json()["items"]] == [keys]
        assert {r["id"] for r in (await client.get(REPORTS, headers=admin)).json()["items"]} == {*mine, keys}


async def test_an_api_key_owns_the_reports_it_asks_for(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        key = await api_key_headers(client.gateway, ["reports:write"])
        other_key = await api_key_headers(client.gateway, ["reports:read"])
        report = await finished(client, await ask(client, key, "failures"), key)
        assert report["status"] == "completed" and report["owner"].startswith("api_key:")
        assert (await client.get(f"{REPORTS}/{report['id']}", headers=other_key)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "nonsense", "format": "csv", "params": {}}, "type"),
        ({"type": "failures", "format": "pdf", "params": {}}, "format"),
        ({"type": "failures", "format": "csv", "params": {"start": "2026-13-01", "end": "2026-02-01"}}, "params.start"),
        ({"type": "failures", "format": "csv", "params": {"start": "2026-02-01", "end": "2026-01-01"}}, "params.end"),
        ({"type": "failures", "format": "csv", "params": {"start": "2020-01-01", "end": "2026-01-01"}}, "params.end"),
        ({"type": "failures", "format": "csv", "params": {"period": "last_century"}}, "params.period"),
        ({"type": "failures", "format": "csv", "params": {"start": "2026-01-01"}}, "params"),
    ],
)
async def test_an_invalid_request_is_a_422_naming_its_field(app_client, body, field: str) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        operator = await user_headers(client.gateway, "operator")
        r = await client.post(REPORTS, json=body, headers=operator)
        assert r.status_code == 422, r.text
        assert field in {e["field"] for e in r.json()["errors"]}
        assert (await client.get(REPORTS, headers=operator)).json()["items"] == []


async def test_a_relative_period_is_resolved_when_asked_for(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        operator = await user_headers(client.gateway, "operator")
        report_id = await ask(client, operator, "failures", period="last_week")
        params = (await client.get(f"{REPORTS}/{report_id}", headers=operator)).json()["params"]
        start, end = datetime.fromisoformat(params["start"]), datetime.fromisoformat(params["end"])
        assert end - start == timedelta(days=7) and end.date() == datetime.now(UTC).date()


async def test_an_expired_link_is_refused(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        operator = await user_headers(client.gateway, "operator")
        report = await finished(client, await ask(client, operator, "failures"), operator)
        past = datetime.now(UTC).timestamp() - 7200
        query, _ = links.signed_query(client.gateway, uuid.UUID(report["id"]), 3600, now=past)
        r = await client.get(f"/plugins/reports/download/{report['id']}?{query}")
        assert r.status_code == 403


async def test_a_tampered_link_is_refused(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        operator = await user_headers(client.gateway, "operator")
        report = await finished(client, await ask(client, operator, "failures"), operator)
        url = report["download_url"]
        later = url.replace("expires=", "expires=9")
        assert (await client.get(later)).status_code == 403
        other = await finished(client, await ask(client, operator, "message_volume"), operator)
        assert (await client.get(url.replace(report["id"], other["id"]))).status_code == 403
        assert (await client.get(url.split("?")[0])).status_code == 403


@pytest.mark.parametrize(
    "query",
    ["signature=" + "é" * 64, "expires=²", "expires=" + "9" * 5000, "expires=-1", "expires=99999999999999999999"],
    ids=["non-ascii-signature", "superscript-expires", "5000-digit-expires", "negative-expires", "over-int64-expires"],
)
async def test_a_malformed_link_is_refused_not_a_server_error(app_client, query: str) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        operator = await user_headers(client.gateway, "operator")
        report = await finished(client, await ask(client, operator, "failures"), operator)
        base, _, genuine = report["download_url"].partition("?")
        params = dict(part.split("=", 1) for part in genuine.split("&"))
        params.update([query.split("=", 1)])
        r = await client.get(base, params=params)
        assert r.status_code == 403, r.text


async def test_a_deleted_reports_link_is_not_found(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        operator = await user_headers(client.gateway, "operator")
        report = await finished(client, await ask(client, operator, "failures"), operator)
        assert (await client.delete(f"{REPORTS}/{report['id']}", headers=operator)).status_code == 204
        assert (await client.get(report["download_url"])).status_code == 404
        assert (await client.get(f"{REPORTS}/{report['id']}", headers=operator)).status_code == 404


async def test_a_pending_report_whose_enqueue_was_lost_is_picked_up(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        operator = await user_headers(client.gateway, "operator")
        report_id = uuid.uuid4()
        async with client.gateway.db.transaction() as conn:
            await conn.execute(
                reports.insert().values(
                    id=report_id,
                    type="failures",
                    format="csv",
                    params={"start": "2026-01-01T00:00:00+00:00", "end": "2026-01-02T00:00:00+00:00"},
                    owner="system:test",
                    owner_label="test",
                    status="pending",
                    created_at=datetime.now(UTC) - timedelta(minutes=5),
                )
            )
        assert await service.pick_up(client.gateway, run=True) == 1
        async with client.gateway.db.transaction() as conn:
            status = await conn.scalar(
                reports.select().with_only_columns(reports.c.status).where(reports.c.id == report_id)
            )
        assert status == "completed"
        assert (await client.get(f"{REPORTS}/{report_id}", headers=operator)).status_code == 404


async def test_reports_past_their_retention_are_deleted_with_their_files(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        operator = await user_headers(client.gateway, "operator")
        old = await finished(client, await ask(client, operator, "failures"), operator)
        path = service.storage_of(client.gateway).path  # type: ignore[union-attr]
        async with client.gateway.db.transaction() as conn:
            key = await conn.scalar(reports.select().with_only_columns(reports.c.storage_key))
        assert path(key).is_file()
        assert await service.purge(client.gateway, now=datetime.now(UTC) + timedelta(days=31)) == 1
        assert not path(key).exists()
        assert not path(key).parent.exists() and path(key).parent.parent.is_dir()
        assert (await client.get(f"{REPORTS}/{old['id']}", headers=operator)).status_code == 404
        assert (await client.get(old["download_url"])).status_code == 404


async def test_a_failing_report_says_why(app_client) -> None:  # type: ignore[no-untyped-def]
    from core import ReportType, hookimpl

    class Broken(ReportType):
        name = "broken"
        columns = ("a",)

        async def rows(self, gateway, params):  # type: ignore[no-untyped-def]
            yield [1]
            raise RuntimeError("the source is down")

    class Plugin:
        @hookimpl
        def switchboard_report_types(self) -> list[ReportType]:
            return [Broken()]

    async with app_client(extra_plugins=[("broken_reports", Plugin())]) as client:
        operator = await user_headers(client.gateway, "operator")
        r = await client.post(REPORTS, json={"type": "broken", "format": "csv"}, headers=operator)
        report = await finished(client, r.json()["id"], operator)
        assert report["status"] == "failed" and report["error"] == "the source is down"
        assert report["failed_at"] and "download_url" not in report


async def test_a_deleted_report_leaves_no_empty_folder(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        operator = await user_headers(client.gateway, "operator")
        report = await finished(client, await ask(client, operator, "failures"), operator)
        storage = service.storage_of(client.gateway)
        async with client.gateway.db.transaction() as conn:
            key = await conn.scalar(reports.select().with_only_columns(reports.c.storage_key))
        assert (await client.delete(f"{REPORTS}/{report['id']}", headers=operator)).status_code == 204
        assert not storage.path(key).parent.exists()  # type: ignore[union-attr]
        assert storage.directory.is_dir()  # type: ignore[union-attr]
