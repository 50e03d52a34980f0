"""dhis2gw's API at /api/v2 ([plugins.dhis2.compat]): its requests, its answers, both auth schemes."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from core.auth.users import insert_user
from tests.fakes.dhis2_metadata import ANC_1ST, DATA_SET, FIXED, NGELEHUN, OUTREACH
from tests.support.dhis2 import import_mappings, settled
from tests.support.mapping_files import ROWS

P = "/api/v2"
COMPAT = {"compat": {"enabled": True}}
# dhis2gw maps with the rows whose instance_name and source_name are "default", only.
DHIS2GW_ROWS = [[*row[:9], "default", "default"] for row in ROWS]


def body(**changes: Any) -> dict[str, Any]:
    base = {
        "orgUnit": NGELEHUN,
        "orgUnitName": "Ngelehun CHC",
        "period": "202401",
        "dataSet": DATA_SET,
        "dataValues": {"ANC1_FIXED": 12, "NOT_MAPPED": 5},
    }
    return base | changes


async def basic(gateway: Any, username: str = "clerk", password: str = "correct horse battery") -> dict[str, str]:
    await insert_user(gateway, username, "operator", await gateway.auth.passwords.hash(password))
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


async def test_compat_routes_are_absent_unless_enabled(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        headers = await basic(client.gateway)
        assert (await client.post(f"{P}/aggregate", json=body(), headers=headers)).status_code == 404


async def test_aggregate_answers_like_dhis2gw_and_is_delivered(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        await import_mappings(client, DHIS2GW_ROWS)
        headers = await basic(client.gateway)
        r = await client.post(f"{P}/aggregate", json=body(), headers=headers)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["message"] == "Aggregate request queued for processing"
        assert isinstance(answer["submission_id"], int) and answer["task_id"]
        payload = answer["payload"]
        assert payload["completeDate"] and payload["orgUnit"] == NGELEHUN and payload["dataSet"] == DATA_SET
        assert payload["dataValues"] == [{"dataElement": ANC_1ST, "categoryOptionCombo": FIXED, "value": "12"}]
        assert await settled(client.gateway) == {"delivered": 1}
        [sent] = dhis2.posted("/dataValueSets")
        assert sent.json()["dataValues"] == payload["dataValues"]
        log = (await client.get(f"{P}/logs/{answer['submission_id']}", headers=headers)).json()
        assert log["status"] in ("OK", "SUCCESS") and log["task_id"] == answer["task_id"]
        assert log["payload"]["dataValues"] == {"ANC1_FIXED": 12, "NOT_MAPPED": 5}


async def test_aggregate_refuses_invalid_json_and_schema_violations_in_dhis2gw_shape(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        headers = await basic(client.gateway)
        r = await client.post(f"{P}/aggregate", content=b"{", headers=headers)
        assert r.status_code == 400 and r.json()["error"].startswith("Invalid JSON: ")
        r = await client.post(f"{P}/aggregate", json={"orgUnit": "short", "dataValues": []}, headers=headers)
        assert r.status_code == 400
        assert r.json()["error"] == "Request does not match required schema"
        detail = r.json()["detail"]
        assert "(root): period is required" in detail
        assert "orgUnit: String length must be greater than or equal to 11" in detail
        assert "dataValues: Invalid type. Expected: object, given: array" in detail


async def test_nothing_mapped_is_a_failed_log_naming_the_codes(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        headers = await basic(client.gateway)
        r = await client.post(f"{P}/aggregate", json=body(dataValues={"NOPE": 1}), headers=headers)
        assert r.status_code == 200 and r.json()["payload"]["dataValues"] == []
        assert await settled(client.gateway) == {"dead": 1}
        logs = (await client.get(f"{P}/logs", headers=headers)).json()
        assert logs["total"] == 1 and logs["items"][0]["status"] == "failed"
        assert logs["items"][0]["task_id"] == {"String": r.json()["task_id"], "Valid": True}
        assert "dataValues.NOPE" in logs["items"][0]["errors"]["String"]


async def test_logs_list_filters_and_pages_in_dhis2gw_shape(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        await import_mappings(client, DHIS2GW_ROWS)
        headers = await basic(client.gateway)
        ids = [(await client.post(f"{P}/aggregate", json=body(), headers=headers)).json() for _ in range(3)]
        await settled(client.gateway)
        page = (await client.get(f"{P}/logs", params={"page_size": 2, "page": 2}, headers=headers)).json()
        assert (page["total"], page["page"], page["page_size"], page["total_pages"]) == (3, 2, 2, 2)
        assert len(page["items"]) == 1 and page["items"][0]["id"] == ids[0]["submission_id"]
        one = (await client.get(f"{P}/logs", params={"task_id": ids[1]["task_id"]}, headers=headers)).json()
        assert [i["id"] for i in one["items"]] == [ids[1]["submission_id"]]
        assert one["items"][0]["dhis2_payload"]["Valid"] is True
        failed = (await client.get(f"{P}/logs", params={"status": "failed"}, headers=headers)).json()
        assert failed["total"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"job_id": "9223372036854775808"},
        {"job_id": "²"},
        {"job_id": "9" * 5000},
        {"to_date": "9999-12-31"},
        {"from_date": "0001-01-01T00:00:00+14:00"},
        {"submitted_at": "9999-12-31"},
        {"submitted_to": "9999-12-31T23:59:59-12:00"},
        {"to_date": "not-a-day"},
    ],
    ids=[
        "job-id-over-int64",
        "job-id-superscript",
        "job-id-5000-digits",
        "to-date-9999",
        "from-date-year-1-utc+14",
        "submitted-at-9999",
        "submitted-to-9999-utc-12",
        "to-date-garbage",
    ],
)
async def test_logs_with_an_unreadable_filter_are_a_400_in_dhis2gw_shape(dhis2_app, params: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        headers = await basic(client.gateway)
        r = await client.get(f"{P}/logs", params=params, headers=headers)
        assert r.status_code == 400, r.text
        assert set(r.json()) == {"error"} and next(iter(params)) in r.json()["error"]


async def test_logs_with_in_range_filters_still_answer(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        headers = await basic(client.gateway)
        params = {"job_id": "9223372036854775807", "from_date": "2024-01-01", "to_date": "9998-12-31"}
        r = await client.get(f"{P}/logs", params=params, headers=headers)
        assert r.status_code == 200 and r.json()["total"] == 0
        assert (await client.get(f"{P}/logs/9223372036854775808", headers=headers)).json() == {"error": "Invalid log ID"}


async def test_log_errors_and_delete_and_purge(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        await import_mappings(client, DHIS2GW_ROWS)
        headers = await basic(client.gateway)
        assert (await client.get(f"{P}/logs/abc", headers=headers)).json() == {"error": "Invalid log ID"}
        assert (await client.get(f"{P}/logs/999", headers=headers)).status_code == 404
        first = (await client.post(f"{P}/aggregate", json=body(), headers=headers)).json()
        await client.post(f"{P}/aggregate", json=body(), headers=headers)
        await settled(client.gateway)
        r = await client.delete(f"{P}/logs/{first['submission_id']}", headers=headers)
        assert r.json() == {"message": "Deleted 1 log(s)"}
        assert (await client.delete(f"{P}/logs/purge", headers=headers)).json() == {
            "error": "missing 'date' query parameter"
        }
        bad = await client.delete(f"{P}/logs/purge", params={"date": "2024-01-01"}, headers=headers)
        assert bad.json() == {"error": "invalid 'date' format, use RFC3339"}
        r = await client.delete(f"{P}/logs/purge", params={"date": "2999-01-01T00:00:00Z"}, headers=headers)
        assert r.json() == {"message": "Deleted 1 logs older than 2999-01-01T00:00:00Z"}


async def test_reenqueue_routes_answer_like_dhis2gw(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        await import_mappings(client, DHIS2GW_ROWS)
        headers = await basic(client.gateway)
        dhis2.fail_with(400, times=1)
        task = (await client.post(f"{P}/aggregate", json=body(), headers=headers)).json()["task_id"]
        assert await settled(client.gateway) == {"dead": 1}
        r = await client.get(f"{P}/aggregate/reenqueue/{task}", headers=headers)
        assert r.status_code == 200
        assert r.json() == {"message": f"Re-enqueued task {task} (type: aggregate:send) from dhis2gw:default queue"}
        assert await settled(client.gateway) == {"delivered": 1}
        r = await client.post(f"{P}/aggregate/reenqueue/{task}", headers=headers)
        assert r.status_code == 500 and r.json()["error"].startswith("Failed to get task info in queue")
        missing = "0190d6c5-0000-7000-8000-000000000000"
        assert (await client.get(f"{P}/aggregate/reenqueue/{missing}", headers=headers)).json() == {
            "error": f"Job log not found for task ID: {missing}"
        }
        r = await client.post(f"{P}/aggregate/reenqueue/batch", json={"task_ids": [task, missing]}, headers=headers)
        assert r.json() == {
            "queue": "dead",
            "reEnqueued": 0,
            "failed": 2,
            "errors": [f"Task {task}: asynq: task not found", f"Task {missing}: asynq: task not found"],
        }
        assert (await client.post(f"{P}/aggregate/reenqueue/batch", content=b"[", headers=headers)).json() == {
            "error": "Invalid request body"
        }


async def test_get_token_then_token_auth_then_refresh(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        headers = await basic(client.gateway)
        r = await client.post(f"{P}/users/getToken", headers=headers)
        assert r.status_code == 201, r.text
        assert r.json()["message"] == "Token created successfully" and r.json()["expires"]
        token = r.json()["token"]
        for scheme in ("Token", "Token:"):
            assert (await client.get(f"{P}/logs", headers={"Authorization": f"{scheme} {token}"})).status_code == 200
        r = await client.post(f"{P}/users/refreshToken", headers={"Authorization": f"Token {token}"})
        assert r.status_code == 200 and r.json()["message"] == "Token refreshed successfully"
        # The old token stopped working at once; the new one works.
        assert (await client.get(f"{P}/logs", headers={"Authorization": f"Token {token}"})).status_code == 401
        fresh = {"Authorization": f"Token {r.json()['token']}"}
        assert (await client.get(f"{P}/logs", headers=fresh)).status_code == 200


async def test_refresh_without_a_token_is_404(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        headers = await basic(client.gateway)
        r = await client.post(f"{P}/users/refreshToken", headers=headers)
        assert r.status_code == 404 and r.json() == {"error": "No active token found to refresh"}


async def test_wrong_basic_password_and_unknown_token_are_401(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        await basic(client.gateway)
        wrong = {"Authorization": "Basic " + base64.b64encode(b"clerk:wrong").decode()}
        assert (await client.get(f"{P}/logs", headers=wrong)).status_code == 401
        no_colon = {"Authorization": "Basic " + base64.b64encode(b"clerk").decode()}
        assert (await client.get(f"{P}/logs", headers=no_colon)).status_code == 401
        hex_token = {"Authorization": "Token " + "ab" * 20}
        assert (await client.get(f"{P}/logs", headers=hex_token)).status_code == 401
        assert (await client.get(f"{P}/logs")).status_code == 401


async def test_basic_auth_locks_the_account_like_the_login(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        good = await basic(client.gateway)
        wrong = {"Authorization": "Basic " + base64.b64encode(b"clerk:wrong").decode()}
        for _ in range(client.gateway.settings.auth.lockout_attempts):
            await client.get(f"{P}/logs", headers=wrong)
        assert (await client.get(f"{P}/logs", headers=good)).status_code == 401


async def test_mapping_import_without_dataset_column_applies_to_the_request_dataset(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        headers = await basic(client.gateway)
        csv = (
            "code,dataelement,category_option_combo,instance_name,source_name,extra\n"
            f"ANC1_FIXED,{ANC_1ST},{FIXED},default,default,ignored\n"
        ).encode()
        r = await client.post(f"{P}/mappings/import/csv", files={"file": ("m.csv", csv, "text/csv")}, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["total"] == 1 and r.json()["records"][0]["dataElement"] == ANC_1ST
        answer = (await client.post(f"{P}/aggregate", json=body(), headers=headers)).json()
        assert answer["payload"]["dataValues"] == [
            {"dataElement": ANC_1ST, "categoryOptionCombo": FIXED, "value": "12"}
        ]
        listed = (await client.get(f"{P}/mappings", headers=headers)).json()
        assert [m["code"] for m in listed] == ["ANC1_FIXED"] and listed[0]["what"] == "de"


async def test_mapping_import_errors_in_dhis2gw_shape(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        headers = await basic(client.gateway)
        assert (await client.post(f"{P}/mappings/import/csv", headers=headers)).json() == {
            "error": "No file is received"
        }
        csv = b"code,dataelement\nX,notauid\n"
        r = await client.post(f"{P}/mappings/import/excel", files={"file": ("m.csv", csv, "text/csv")}, headers=headers)
        assert r.status_code == 400 and r.json()["error"] == "Failed to parse Excel"
        r = await client.post(f"{P}/mappings/import/csv", files={"file": ("m.csv", csv, "text/csv")}, headers=headers)
        assert r.status_code == 400 and r.json()["error"] == "Failed to parse CSV" and r.json()["details"]


async def test_excel_export_and_template_have_dhis2gw_columns(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        await import_mappings(client, DHIS2GW_ROWS)
        headers = await basic(client.gateway)
        r = await client.get(f"{P}/mappings/export/excel", headers=headers)
        assert r.status_code == 200
        assert 'filename="dhis2_mappings.xlsx"' in r.headers["content-disposition"]
        sheet = load_workbook(io.BytesIO(r.content)).worksheets[0]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0][:2] == ("code", "what") and len(rows[0]) == 13 and len(rows) > 1
        template = await client.get("/mappings/export/excel-template")  # root, no login, as in dhis2gw
        assert template.status_code == 200
        assert 'filename="dhis2_mappings_template.xlsx"' in template.headers["content-disposition"]


async def test_only_default_instance_and_source_rows_map_as_in_dhis2gw(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        await import_mappings(client)  # rows for instance "national", source "hmis": never read by dhis2gw
        headers = await basic(client.gateway)
        r = await client.post(f"{P}/aggregate", json=body(), headers=headers)
        assert r.status_code == 200 and r.json()["payload"]["dataValues"] == []
        csv = f"code,dataelement,category_option_combo\nANC1_FIXED,{ANC_1ST},{FIXED}\n".encode()  # empty: not "default"
        await client.post(f"{P}/mappings/import/csv", files={"file": ("m.csv", csv, "text/csv")}, headers=headers)
        r = await client.post(f"{P}/aggregate", json=body(), headers=headers)
        assert r.json()["payload"]["dataValues"] == []
        await import_mappings(client, DHIS2GW_ROWS)
        r = await client.post(f"{P}/aggregate", json=body(), headers=headers)
        assert r.json()["payload"]["dataValues"] == [
            {"dataElement": ANC_1ST, "categoryOptionCombo": FIXED, "value": "12"}
        ]


async def test_a_requeued_submission_is_mapped_again_with_default_rows_only(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        await import_mappings(client, DHIS2GW_ROWS)
        headers = await basic(client.gateway)
        dhis2.fail_with(400, times=1)
        task = (await client.post(f"{P}/aggregate", json=body(), headers=headers)).json()["task_id"]
        assert await settled(client.gateway) == {"dead": 1}
        # A row for another source maps NOT_MAPPED now; dhis2gw's API must still leave it out.
        await import_mappings(
            client, [["NOT_MAPPED", "de", "", "", DATA_SET, ANC_1ST, OUTREACH, "", "", "national", "hmis"]]
        )
        assert (await client.get(f"{P}/aggregate/reenqueue/{task}", headers=headers)).status_code == 200
        assert await settled(client.gateway) == {"delivered": 1}
        sent = dhis2.posted("/dataValueSets")[-1].json()["dataValues"]
        assert sent == [{"dataElement": ANC_1ST, "categoryOptionCombo": FIXED, "value": "12"}]
