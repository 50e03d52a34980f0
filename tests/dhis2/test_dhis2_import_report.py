"""The ``dhis2_imports`` report: what the fake DHIS2 answered to each submission, in every format."""

from __future__ import annotations

from typing import Any

import pytest

from core.testing import api_key_headers, user_headers
from tests.dhis2.test_dhis2_tracker import flat_event, nested_payload
from tests.fakes.dhis2_metadata import ANC_1ST, ANC_REMARKS, FIXED, NGELEHUN, TOKEN
from tests.reports.report_steps import REPORTS, ask, download, finished, parse, period
from tests.support.dhis2 import settled

AGGREGATE = "/plugins/dhis2/aggregate"
TYPES = "/plugins/reports/types"


def native(*values: dict[str, Any]) -> dict[str, Any]:
    return {"period": "202401", "orgUnit": NGELEHUN, "dataValues": list(values)}


def value(element: str = ANC_1ST, v: str = "1", **more: Any) -> dict[str, Any]:
    return {"dataElement": element, "value": v, **more}


async def submitted(client: Any, body: dict[str, Any], instance: str | None = None) -> str:
    """Submit ``body`` and run its delivery to the end; the delivery id."""
    headers = await user_headers(client.gateway, "operator")
    r = await client.post(AGGREGATE, json=body, headers=headers, params={"instance": instance} if instance else {})
    assert r.status_code == 202, r.text
    await settled(client.gateway)
    return str(r.json()["delivery_id"])


def two_instances(dhis2: Any) -> dict[str, Any]:
    return {
        "dhis2": {
            "instances": {
                "national": {"base_url": dhis2.url, "token": TOKEN},
                "district": {"base_url": dhis2.url, "token": TOKEN},
            },
            "default_instance": "national",
        }
    }


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
async def test_each_import_is_reported_with_its_counts_and_conflicts(dhis2_app, fmt: str) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        first = await submitted(client, native(value(v="4"), value(ANC_REMARKS, "seen")))
        again = await submitted(client, native(value(v="5"), value(ANC_REMARKS, "seen")))
        refused = await submitted(client, native(value(v="6"), value(ANC_1ST, "many", categoryOptionCombo=FIXED)))
        operator = await user_headers(client.gateway, "operator")
        report = await finished(client, await ask(client, operator, "dhis2_imports", fmt), operator)
        assert report["status"] == "completed", report
        rows = parse(fmt, await download(client, report))
        assert [r["delivery_id"] for r in rows] == [first, again, refused]
        assert {(r["instance"], r["type"]) for r in rows} == {("national", "aggregate")}
        counts = [tuple(int(r[k]) for k in ("imported", "updated", "ignored", "deleted")) for r in rows]
        assert counts == [(2, 0, 0, 0), (0, 1, 1, 0), (0, 1, 1, 0)]
        assert [r["dhis2_status"] for r in rows] == ["SUCCESS", "SUCCESS", "WARNING"]
        assert [r["outcome"] for r in rows] == ["delivered", "delivered", "dead"]
        assert [int(r["http_status"]) for r in rows] == [200, 200, 409]
        assert [int(r["conflicts_total"]) for r in rows] == [0, 0, 1]
        conflict = rows[2]["conflicts"]
        assert conflict.startswith(f"value {ANC_1ST}: ") and conflict.endswith("[E7619]"), conflict
        assert "1 conflict(s)" in rows[2]["error"] and not rows[0]["error"]
        assert all(r["message_id"] and int(r["attempt"]) == 1 for r in rows)
        if fmt != "csv":  # counts stay numbers, times are ISO text
            assert isinstance(rows[0]["imported"], int) and isinstance(rows[0]["time"], str)


async def test_a_failing_chunk_is_a_row_with_its_status_and_the_retry_has_the_counts(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        dhis2.fail_with(503, times=1)
        delivery_id = await submitted(client, native(value(v="4")))
        operator = await user_headers(client.gateway, "operator")
        report = await finished(client, await ask(client, operator, "dhis2_imports", "json"), operator)
        failed, delivered = parse("json", await download(client, report))
        assert failed["delivery_id"] == delivered["delivery_id"] == delivery_id
        assert (failed["attempt"], failed["outcome"], failed["http_status"]) == (1, "retry", 503)
        assert failed["dhis2_status"] is None and failed["imported"] is None and "503" in failed["error"]
        assert (delivered["attempt"], delivered["dhis2_status"], delivered["imported"]) == (2, "SUCCESS", 1)


async def test_tracker_imports_show_created_objects_and_error_reports(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        headers = await api_key_headers(client.gateway, ["dhis2:tracker"])
        for body in (nested_payload(), flat_event(programStage="Zj7UnCAulEk")):
            r = await client.post("/plugins/dhis2/tracker", json=body, params={"async": "false"}, headers=headers)
            assert r.status_code == 202, r.text
            await settled(client.gateway)
        operator = await user_headers(client.gateway, "operator")
        report = await finished(client, await ask(client, operator, "dhis2_imports", "csv"), operator)
        created, rejected = parse("csv", await download(client, report))
        assert (created["type"], created["dhis2_status"], created["imported"], created["conflicts_total"]) == (
            "tracker",
            "OK",
            "3",
            "0",
        )
        assert (rejected["dhis2_status"], rejected["http_status"], rejected["conflicts_total"]) == ("ERROR", "409", "1")
        assert rejected["conflicts"].startswith("EVENT ") and rejected["conflicts"].endswith("[E1013]")


async def test_the_report_can_be_limited_to_one_instance(app_client, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with app_client(plugins=two_instances(dhis2)) as client:
        national = await submitted(client, native(value(v="4")), "national")
        district = await submitted(client, native(value(v="7", categoryOptionCombo=FIXED)), "district")
        operator = await user_headers(client.gateway, "operator")
        both = await finished(client, await ask(client, operator, "dhis2_imports", "json"), operator)
        assert {r["delivery_id"] for r in parse("json", await download(client, both))} == {national, district}
        report_id = await ask(client, operator, "dhis2_imports", "json", **period(), instance="district")
        one = await finished(client, report_id, operator)
        assert one["params"]["instance"] == "district"
        [row] = parse("json", await download(client, one))
        assert (row["delivery_id"], row["instance"]) == (district, "district")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({**period(), "instance": "nowhere"}, "params.instance"),
        ({**period(), "instance": 7}, "params.instance"),
        ({"start": "2026-13-01", "end": "2026-02-01", "instance": "national"}, "params.start"),
        ({"period": "last_century"}, "params.period"),
        ({**period(), "colour": "red"}, "params.colour"),
    ],
)
async def test_a_bad_instance_or_period_is_a_422_naming_the_field(dhis2_app, params, field: str) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        operator = await user_headers(client.gateway, "operator")
        r = await client.post(
            REPORTS, json={"type": "dhis2_imports", "format": "csv", "params": params}, headers=operator
        )
        assert r.status_code == 422, r.text
        assert field in {e["field"] for e in r.json()["errors"]}


async def test_operators_and_report_keys_may_ask_for_it_viewers_may_not(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        body = {"type": "dhis2_imports", "format": "csv", "params": period()}
        viewer = await user_headers(client.gateway, "viewer")
        operator = await user_headers(client.gateway, "operator")
        key = await api_key_headers(client.gateway, ["reports:write"])
        assert (await client.post(REPORTS, json=body, headers=viewer)).status_code == 403
        assert (await client.post(REPORTS, json=body, headers=operator)).status_code == 202
        assert (await client.post(REPORTS, json=body, headers=key)).status_code == 202
        listed = (await client.get(TYPES, headers=viewer)).json()["items"]
        assert "dhis2_imports" in {t["name"] for t in listed}


async def test_without_the_dhis2_plugin_there_is_no_such_report(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(plugins={"dhis2": {"enabled": False}}) as client:
        operator = await user_headers(client.gateway, "operator")
        assert "dhis2_imports" not in {t["name"] for t in (await client.get(TYPES, headers=operator)).json()["items"]}
        body = {"type": "dhis2_imports", "format": "csv", "params": period()}
        r = await client.post(REPORTS, json=body, headers=operator)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "type"


async def test_without_a_configured_instance_the_report_is_empty(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        operator = await user_headers(client.gateway, "operator")
        report = await finished(client, await ask(client, operator, "dhis2_imports", "csv"), operator)
        assert report["status"] == "completed" and report["row_count"] == 0
        body = {"type": "dhis2_imports", "format": "csv", "params": {**period(), "instance": "national"}}
        r = await client.post(REPORTS, json=body, headers=operator)
        assert r.status_code == 422 and "none is configured" in r.json()["errors"][0]["message"]
