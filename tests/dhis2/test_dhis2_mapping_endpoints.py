"""Listing, exporting, deleting and verifying mappings."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from core.testing import user_headers
from tests.fakes.dhis2_metadata import ANC_1ST, DATA_SET, FIXED, NGELEHUN
from tests.support.dhis2 import import_mappings
from tests.support.mapping_files import DHIS2GW_HEADER, ROWS, csv_bytes, upload

MAPPINGS = "/plugins/dhis2/mappings"


async def test_mappings_are_filtered_and_paged_by_keyset(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        await import_mappings(client)
        headers = await user_headers(client.gateway, "viewer")
        first = (await client.get(MAPPINGS, params={"limit": 3}, headers=headers)).json()
        assert [m["code"] for m in first["items"]] == ["ANC1_FIXED", "ANC1_OUTREACH", "ANC2_FIXED"]
        rest = (await client.get(MAPPINGS, params={"limit": 3, "cursor": first["next"]}, headers=headers)).json()
        assert [m["code"] for m in rest["items"]] == ["ANC3"] and rest["next"] is None
        by_element = await client.get(MAPPINGS, params={"dataElement": ANC_1ST}, headers=headers)
        assert {m["code"] for m in by_element.json()["items"]} == {"ANC1_FIXED", "ANC1_OUTREACH"}
        no_combo = await client.get(MAPPINGS, params={"category_option_combo": ""}, headers=headers)
        assert [m["code"] for m in no_combo.json()["items"]] == ["ANC3"]


async def test_bad_list_queries_are_reported_by_parameter(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "viewer")
        r = await client.get(MAPPINGS, params={"limit": 0, "cursor": "abc", "datset": "x"}, headers=headers)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "datset"
        r = await client.get(MAPPINGS, params={"limit": 5000, "cursor": "abc"}, headers=headers)
        assert {e["field"] for e in r.json()["errors"]} == {"limit", "cursor"}


async def test_one_mapping_is_read_and_deleted(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        await import_mappings(client)
        viewer = await user_headers(client.gateway, "viewer")
        operator = await user_headers(client.gateway, "operator")
        [mapping] = (await client.get(MAPPINGS, params={"code": "ANC3"}, headers=viewer)).json()["items"]
        assert (await client.get(f"{MAPPINGS}/{mapping['id']}", headers=viewer)).json()["code"] == "ANC3"
        assert (await client.delete(f"{MAPPINGS}/{mapping['id']}", headers=viewer)).status_code == 403
        assert (await client.delete(f"{MAPPINGS}/{mapping['id']}", headers=operator)).status_code == 204
        assert (await client.delete(f"{MAPPINGS}/{mapping['id']}", headers=operator)).status_code == 404
        assert (await client.get(f"{MAPPINGS}/{mapping['id']}", headers=viewer)).status_code == 404


async def test_csv_export_neutralises_formula_cells_and_imports_back_unchanged(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    rows = [list(ROWS[0]), list(ROWS[1])]
    rows[0][2] = "+ANC first visit"
    rows[1][3] = "@SUM(1+1)*cmd|' /C calc'!A0"
    async with dhis2_app() as client:
        await import_mappings(client, rows)
        headers = await user_headers(client.gateway, "operator")
        export = await client.get(f"{MAPPINGS}/export.csv", headers=headers)
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        assert "attachment" in export.headers["content-disposition"]
        records = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
        assert records[0] == [*DHIS2GW_HEADER, "attribute_option_combo"]
        assert records[1][2] == "'+ANC first visit" and records[2][3].startswith("'@SUM")
        again = await client.post(f"{MAPPINGS}/import", files=upload(export.content), headers=headers)
        assert again.json()["data_values"]["unchanged"] == 2


async def test_full_width_formula_cells_are_neutralised_in_both_exports_and_import_back(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    rows = [list(r) for r in ROWS]
    names = ["\uff1dHYPERLINK(\"http://evil\")", "\uff0bANC first visit", "\uff0d5% stock", "\uff20SUM(1+1)"]
    for row, name in zip(rows, names, strict=False):
        row[2] = name
    async with dhis2_app() as client:
        await import_mappings(client, rows)
        headers = await user_headers(client.gateway, "operator")
        export = await client.get(f"{MAPPINGS}/export.csv", headers=headers)
        records = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
        assert sorted(r[2] for r in records[1:]) == sorted("'" + n for n in names[: len(rows)])
        book = await client.get(f"{MAPPINGS}/export.xlsx", headers=headers)
        cells = [row[2].value for row in load_workbook(io.BytesIO(book.content)).worksheets[0].iter_rows(min_row=2)]
        assert sorted(cells) == sorted("'" + n for n in names[: len(rows)])
        for content, filename in ((export.content, "x.csv"), (book.content, "x.xlsx")):
            again = await client.post(f"{MAPPINGS}/import", files=upload(content, filename), headers=headers)
            assert again.json()["data_values"]["unchanged"] == len(rows), again.text


async def test_xlsx_export_imports_back_unchanged(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    rows = [list(r) for r in ROWS]
    rows[2][2] = "-5% stock"
    async with dhis2_app() as client:
        await import_mappings(client, rows)
        headers = await user_headers(client.gateway, "operator")
        export = await client.get(f"{MAPPINGS}/export.xlsx", params={"dataset": DATA_SET}, headers=headers)
        book = load_workbook(io.BytesIO(export.content))
        assert book.worksheets[0]["C4"].value == "'-5% stock"
        again = await client.post(f"{MAPPINGS}/import", files=upload(export.content, "x.xlsx"), headers=headers)
        assert again.status_code == 200, again.text
        assert (again.json()["data_values"]["unchanged"], again.json()["format"]) == (4, "xlsx")


async def test_the_template_is_a_workbook_with_the_expected_columns(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "viewer")
        r = await client.get(f"{MAPPINGS}/template.xlsx", headers=headers)
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
        header = [c.value for c in load_workbook(io.BytesIO(r.content)).worksheets[0][1]]
        assert header[:11] == DHIS2GW_HEADER
        units = await client.get("/plugins/dhis2/orgunit-mappings/template.xlsx", headers=headers)
        assert [c.value for c in load_workbook(io.BytesIO(units.content)).worksheets[0][1]] == [
            "code",
            "org_unit",
            "name",
            "instance",
            "source_name",
        ]


async def test_org_unit_mappings_are_listed_exported_and_deleted(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        data = csv_bytes(
            [["FAC-001", NGELEHUN, "=cmd"], ["FAC-002", NGELEHUN, "-"]], header=["code", "org_unit", "name"]
        )
        refused = await client.post("/plugins/dhis2/orgunit-mappings/import", files=upload(data), headers=headers)
        assert refused.status_code == 422 and refused.json()["errors"][0]["column"] == "name"
        data = csv_bytes([["FAC-001", NGELEHUN, "+x"], ["FAC-002", NGELEHUN, ""]], header=["code", "org_unit", "name"])
        await client.post("/plugins/dhis2/orgunit-mappings/import", files=upload(data), headers=headers)
        listed = (
            await client.get("/plugins/dhis2/orgunit-mappings", params={"orgUnit": NGELEHUN}, headers=headers)
        ).json()
        assert [u["code"] for u in listed["items"]] == ["FAC-001", "FAC-002"]
        export = await client.get("/plugins/dhis2/orgunit-mappings/export.csv", headers=headers)
        assert export.content.decode("utf-8-sig").splitlines()[1] == f"FAC-001,{NGELEHUN},'+x,,"
        gone = await client.delete(f"/plugins/dhis2/orgunit-mappings/{listed['items'][0]['id']}", headers=headers)
        assert gone.status_code == 204


async def test_verification_reports_uids_the_instance_does_not_have(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    rows = [list(ROWS[0]), ["NEW", "de", "", "", DATA_SET, "Xq1ZZZZZZZZ", FIXED, "", "", "", ""]]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(
            f"{MAPPINGS}/import", params={"verify": "true"}, files=upload(csv_bytes(rows)), headers=headers
        )
        assert r.status_code == 422
        [error] = r.json()["errors"]
        assert (error["row"], error["column"]) == (3, "dataelement")
        assert "Xq1ZZZZZZZZ is not among the dataElements of DHIS2 instance 'national'" == error["message"]
        lookups = [q for q in dhis2.requests if q.path == "/api/dataElements"]
        assert lookups[0].params["filter"] == f"id:in:[Xq1ZZZZZZZZ,{ANC_1ST}]"


async def test_verified_uids_are_remembered(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        for _ in range(2):
            r = await client.post(
                f"{MAPPINGS}/import", params={"verify": "true"}, files=upload(csv_bytes(ROWS)), headers=headers
            )
            assert r.status_code == 200, r.text
            assert r.json()["verified"] is True
        assert len([q for q in dhis2.requests if q.path == "/api/dataElements"]) == 1


async def test_verification_without_a_reachable_instance_is_a_gateway_error(app_client) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.dhis2_metadata import TOKEN
    from tests.support.receiver import free_port

    instance = {"base_url": f"http://127.0.0.1:{free_port()}", "token": TOKEN}
    async with app_client(plugins={"dhis2": {"instances": {"national": instance}}}) as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(
            f"{MAPPINGS}/import", params={"verify": "1"}, files=upload(csv_bytes(ROWS)), headers=headers
        )
        assert r.status_code == 502 and "could not check the uids" in r.json()["error"]


async def test_an_api_key_with_the_mappings_scope_may_import(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    from core.testing import api_key_headers

    async with dhis2_app() as client:
        key = await api_key_headers(client.gateway, ["dhis2:mappings"])
        other = await api_key_headers(client.gateway, ["dhis2:aggregate"])
        assert (await client.post(f"{MAPPINGS}/import", files=upload(csv_bytes(ROWS)), headers=key)).status_code == 200
        assert (await client.get(MAPPINGS, headers=other)).status_code == 403


async def test_the_openapi_document_describes_imports_submissions_and_integer_ids(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
        upload = paths["/plugins/dhis2/mappings/import"]["post"]["requestBody"]["content"]["multipart/form-data"]
        assert upload["schema"]["properties"]["file"]["format"] == "binary"
        aggregate = paths["/plugins/dhis2/aggregate"]["post"]
        assert "dataValues" in aggregate["requestBody"]["content"]["application/json"]["schema"]["properties"]
        assert "202" in aggregate["responses"]
        assert "requestBody" in paths["/plugins/dhis2/tracker"]["post"]
        [param] = paths["/plugins/dhis2/mappings/{mapping_id}"]["get"]["parameters"]
        assert param["schema"]["type"] == "integer"
