"""Mapping files: dhis2gw-format CSV and XLSX import, all or nothing, with row- and column-level errors."""

from __future__ import annotations

import io

from openpyxl import Workbook

from core.testing import audit_entries, user_headers
from tests.fakes.dhis2_metadata import ANC_1ST, ANC_2ND, DATA_SET, FIXED, NGELEHUN
from tests.support.mapping_files import DHIS2GW_HEADER, ROWS, csv_bytes, upload, xlsx_bytes

IMPORT = "/plugins/dhis2/mappings/import"


async def mappings(client, headers, **params):  # type: ignore[no-untyped-def]
    r = await client.get("/plugins/dhis2/mappings", params={"limit": 1000, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_dhis2gw_csv_file_imports(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(csv_bytes(ROWS)), headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["format"] == "csv" and body["rows"] == 4 and body["dry_run"] is False
        assert body["data_values"]["created"] == 4
        stored = {m["code"]: m for m in await mappings(client, headers)}
        assert stored["ANC1_FIXED"] | {"id": None, "created_at": None, "updated_at": None} == {
            "id": None,
            "code": "ANC1_FIXED",
            "dataset": DATA_SET,
            "data_element": ANC_1ST,
            "category_option_combo": FIXED,
            "attribute_option_combo": None,
            "category_option": None,
            "category_combo": None,
            "name": "ANC 1st visit, fixed",
            "description": None,
            "instance_name": "national",
            "source_name": "hmis",
            "created_at": None,
            "updated_at": None,
        }
        assert stored["ANC3"]["category_option_combo"] is None


async def test_dhis2gw_xlsx_file_imports_whatever_its_name(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(xlsx_bytes(ROWS), "mappings.csv"), headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["format"] == "xlsx" and r.json()["data_values"]["created"] == 4


async def test_headers_are_matched_case_insensitively_and_trimmed(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    header = [" Code ", "WHAT", "Name", "description", " DataSet", "DataElement ", "Category Option Combo"]
    rows = [[r[0], r[1], r[2], r[3], r[4], r[5], r[6]] for r in ROWS]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(csv_bytes(rows, header)), headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["data_values"]["created"] == 4


async def test_reimport_updates_on_code_and_dataset_and_counts_unchanged(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        await client.post(IMPORT, files=upload(csv_bytes(ROWS)), headers=headers)
        changed = [list(r) for r in ROWS]
        changed[0][6] = FIXED.replace("P", "Q")  # another combo uid for ANC1_FIXED
        r = await client.post(IMPORT, files=upload(csv_bytes(changed)), headers=headers)
        outcome = r.json()["data_values"]
        assert (outcome["created"], outcome["updated"], outcome["unchanged"]) == (0, 1, 3)
        [change] = outcome["changes"]
        assert change["code"] == "ANC1_FIXED" and change["row"] == 2
        assert change["fields"] == {"category_option_combo": {"from": FIXED, "to": changed[0][6]}}
        stored = await mappings(client, headers, code="ANC1_FIXED")
        assert len(stored) == 1 and stored[0]["category_option_combo"] == changed[0][6]


async def test_dry_run_reports_what_would_change_and_changes_nothing(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, params={"dry_run": "true"}, files=upload(csv_bytes(ROWS)), headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["dry_run"] is True and r.json()["data_values"]["created"] == 4
        assert [c["action"] for c in r.json()["data_values"]["changes"]] == ["create"] * 4
        assert await mappings(client, headers) == []


async def test_every_bad_cell_is_reported_by_row_and_column_and_nothing_is_imported(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    rows = [
        ROWS[0],
        ["", "de", "", "", DATA_SET, ANC_1ST, "", "", "", "", ""],  # row 3: no code
        ["X1", "de", "", "", "not-a-uid", "1bad-uid-00", "", "", "", "", ""],  # row 4: two bad uids
        ROWS[0],  # row 5: same (code, dataset) as row 2
        ["X2", "zz", "", "", DATA_SET, ANC_2ND, "", "", "", "", ""],  # row 6: unknown kind
    ]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(csv_bytes(rows)), headers=headers)
        assert r.status_code == 422, r.text
        errors = {(e["row"], e["column"]): e for e in r.json()["errors"]}
        assert set(errors) == {(3, "code"), (4, "dataset"), (4, "dataelement"), (5, "code"), (6, "what")}
        assert errors[(4, "dataset")]["cell"] == "E4"
        assert "not a DHIS2 uid" in errors[(4, "dataelement")]["message"]
        assert "duplicate of row 2" in errors[(5, "code")]["message"]
        assert "nothing was imported" in r.json()["error"]
        assert await mappings(client, headers) == []


async def test_short_rows_are_reported_as_missing_cells(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    data = csv_bytes([]) + b"ANC1,de,name\r\n" + b"ANC2\r\n"
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(data), headers=headers)
        assert r.status_code == 422
        found = {(e["row"], e["column"]) for e in r.json()["errors"]}
        # An empty dataset is allowed (as dhis2gw allowed it): the mapping holds for every data set.
        assert found == {(2, "dataelement"), (3, "dataelement")}


async def test_a_missing_required_column_is_reported_in_the_header_row(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    data = csv_bytes([["ANC1", DATA_SET]], header=["code", "dataset"])
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(data), headers=headers)
        assert r.status_code == 422
        assert r.json()["errors"] == [
            {"row": 1, "column": "dataelement", "cell": None, "message": "required column is missing"}
        ]


async def test_empty_file_and_header_only_file_are_refused(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        empty = await client.post(IMPORT, files=upload(b""), headers=headers)
        assert empty.status_code == 422 and empty.json()["error"] == "the file is empty"
        assert empty.json()["errors"][0]["row"] == 1
        only_header = await client.post(IMPORT, files=upload(csv_bytes([])), headers=headers)
        assert only_header.status_code == 422 and "no rows of mappings" in only_header.json()["error"]


async def test_a_pdf_renamed_to_xlsx_is_refused_as_unsupported(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + bytes(range(256))
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(pdf, "mappings.xlsx"), headers=headers)
        assert r.status_code == 415
        assert r.json()["error"] == "this is a PDF document, not a CSV or XLSX file"


async def test_a_damaged_workbook_is_refused_clearly(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    damaged = xlsx_bytes(ROWS)[:600]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(damaged, "mappings.xlsx"), headers=headers)
        assert r.status_code == 422 and "damaged" in r.json()["error"]


async def test_formulas_in_a_workbook_are_reported_by_cell(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    rows = [list(ROWS[0]), list(ROWS[1])]
    rows[1][5] = '=VLOOKUP("ANC1",Sheet2!A:B,2,FALSE)'
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(xlsx_bytes(rows), "m.xlsx"), headers=headers)
        assert r.status_code == 422
        [error] = r.json()["errors"]
        assert (error["row"], error["column"], error["cell"]) == (3, "dataelement", "F3")
        assert "formulas are not accepted" in error["message"]
        assert await mappings(client, headers) == []


async def test_csv_with_a_byte_order_mark_and_semicolons_imports(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    data = b"\xef\xbb\xbf" + csv_bytes(ROWS, delimiter=";")
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(data), headers=headers)
        assert r.status_code == 200, r.text
        assert {m["code"] for m in await mappings(client, headers)} == {r[0] for r in ROWS}


async def test_windows_1252_csv_imports(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    rows = [list(ROWS[0])]
    rows[0][2] = "Première visite CPN"
    data = csv_bytes([]).decode().encode("cp1252") + ",".join(rows[0]).encode("cp1252") + b"\r\n"
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(data), headers=headers)
        assert r.status_code == 200, r.text
        assert (await mappings(client, headers))[0]["name"] == "Première visite CPN"


async def test_utf16_tab_separated_text_from_excel_imports(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    data = csv_bytes(ROWS, delimiter="\t").decode().encode("utf-16")
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(data, "mappings.txt"), headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["data_values"]["created"] == 4


async def test_dhis2gw_org_unit_rows_become_org_unit_mappings(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    header = [*DHIS2GW_HEADER, "source_orgunit", "destination_orgunit"]
    rows = [
        [*ROWS[0], "", ""],
        ["", "ou", "Ngelehun CHC", "", "", "", "", "", "", "national", "hmis", "FAC-001", NGELEHUN],
    ]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(csv_bytes(rows, header)), headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["data_values"]["created"] == 1 and r.json()["org_units"]["created"] == 1
        units = await client.get("/plugins/dhis2/orgunit-mappings", headers=headers)
        [unit] = units.json()["items"]
        assert (unit["code"], unit["org_unit"], unit["instance"], unit["name"]) == (
            "FAC-001",
            NGELEHUN,
            "national",
            "Ngelehun CHC",
        )


async def test_org_unit_mapping_file_imports_and_updates_on_code_and_instance(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    data = csv_bytes([["FAC-001", NGELEHUN, "Ngelehun CHC", ""]], header=["Code", "OrgUnit", "Name", "Instance"])
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        first = await client.post("/plugins/dhis2/orgunit-mappings/import", files=upload(data), headers=headers)
        assert first.status_code == 200, first.text
        assert first.json()["org_units"]["created"] == 1
        renamed = data.replace(b"Ngelehun CHC", b"Ngelehun Community Health Centre")
        second = await client.post("/plugins/dhis2/orgunit-mappings/import", files=upload(renamed), headers=headers)
        assert (second.json()["org_units"]["created"], second.json()["org_units"]["updated"]) == (0, 1)


async def test_a_fifty_thousand_row_file_imports(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    rows = [[f"CODE{i:05d}", "de", f"value {i}", "", DATA_SET, ANC_1ST, FIXED, "", "", "", ""] for i in range(50_000)]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(csv_bytes(rows)), headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["data_values"]["created"] == 50_000
        assert len(r.json()["data_values"]["changes"]) == 1000 and r.json()["data_values"]["changes_truncated"]
        again = await client.post(IMPORT, files=upload(csv_bytes(rows)), headers=headers)
        assert again.json()["data_values"]["unchanged"] == 50_000


async def test_more_rows_than_allowed_are_refused(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(max_import_rows=3) as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(csv_bytes(ROWS)), headers=headers)
        assert r.status_code == 413 and "more than 3 rows" in r.json()["error"]


async def test_an_upload_over_the_size_limit_is_refused(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(max_upload_bytes=4096) as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(b"x" * 10_000), headers=headers)
        assert r.status_code == 413


async def test_a_file_larger_than_the_general_body_limit_is_accepted_for_import(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    rows = [[f"C{i:06d}", "de", "x" * 40, "", DATA_SET, ANC_1ST, FIXED, "", "", "", ""] for i in range(20_000)]
    data = csv_bytes(rows)
    assert len(data) > 1024 * 1024  # [server] max_body_bytes
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(data), headers=headers)
        assert r.status_code == 200, r.text
        big_json = await client.post("/plugins/dhis2/aggregate", content=data, headers=headers)
        assert big_json.status_code == 413


async def test_a_request_without_the_file_field_is_refused(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files={"other": ("m.csv", b"a", "text/csv")}, headers=headers)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "file"
        wrong_type = await client.post(IMPORT, content=b"{}", headers={**headers, "content-type": "application/json"})
        assert wrong_type.status_code == 415


async def test_the_raw_body_may_be_the_file(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, content=csv_bytes(ROWS), headers={**headers, "content-type": "text/csv"})
        assert r.status_code == 200 and r.json()["data_values"]["created"] == 4


async def test_importing_needs_the_operator_role(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        viewer = await user_headers(client.gateway, "viewer")
        assert (await client.post(IMPORT, files=upload(csv_bytes(ROWS)), headers=viewer)).status_code == 403
        assert (await client.get("/plugins/dhis2/mappings", headers=viewer)).status_code == 200
        assert (await client.post(IMPORT, files=upload(csv_bytes(ROWS)))).status_code == 401


async def test_an_import_is_audited(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator", username="ops-anna")
        await client.post(IMPORT, files=upload(csv_bytes(ROWS)), headers=headers)
        [row] = await audit_entries(client.gateway, action="dhis2.mappings.import")
        assert row.actor == "user:ops-anna" and row.detail["data_values_created"] == 4


def test_template_workbook_has_the_dhis2gw_columns_first(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from openpyxl import load_workbook

    from plugins.dhis2.mappings import exports
    from plugins.dhis2.mappings.importer import DATA_VALUE_HEADER

    book = load_workbook(io.BytesIO(exports.template(DATA_VALUE_HEADER, exports.DATA_VALUE_NOTES)))
    header = [c.value for c in book.worksheets[0][1]]
    assert header[: len(DHIS2GW_HEADER)] == DHIS2GW_HEADER
    assert book.sheetnames == ["Mappings", "Columns"]


def test_a_workbook_whose_first_sheet_is_blank_reports_the_empty_file() -> None:
    import pytest

    from plugins.dhis2.mappings.tabular import FileProblem, read_table

    book = Workbook()
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(FileProblem, match="the file is empty"):
        read_table(out.getvalue(), max_rows=10)


def test_workbook_cells_read_as_typed_like_openpyxl_reads_them() -> None:
    import datetime

    from plugins.dhis2.mappings.tabular import _openpyxl_rows, read_table

    book = Workbook()
    sheet = book.active
    sheet.append(["code", "number", "decimal", "date", "flag", "text"])
    sheet.append(["A1", 12, 3.5, datetime.date(2024, 1, 31), True, "  padded  "])
    sheet["B5"] = 7
    sheet.append([])
    out = io.BytesIO()
    book.save(out)

    def trimmed(cells):  # type: ignore[no-untyped-def]
        while cells and cells[-1] is None:
            cells = cells[:-1]
        return cells

    table = read_table(out.getvalue(), max_rows=10)
    by_openpyxl = [(n, trimmed(v)) for n, v in _openpyxl_rows(out.getvalue()) if any(x is not None for x in v)]
    assert [(n, trimmed(v)) for n, v in table.rows] == by_openpyxl[1:]
    assert table.rows[0][1] == ["A1", "12", "3.5", "2024-01-31T00:00:00", "true", "padded"]


async def test_a_value_beyond_the_header_is_reported(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    book = Workbook()
    sheet = book.active
    sheet.append(DHIS2GW_HEADER)
    sheet.append(ROWS[0])
    sheet.cell(row=2, column=16_000, value="stray")  # far right: column WQJ
    out = io.BytesIO()
    book.save(out)
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(IMPORT, files=upload(out.getvalue(), "m.xlsx"), headers=headers)
        assert r.status_code == 422
        [error] = r.json()["errors"]
        assert error["row"] == 2 and "beyond the header's 11 columns" in error["message"]
        data = csv_bytes([]) + (",".join(ROWS[0]) + ",oops\r\n").encode()
        r = await client.post(IMPORT, files=upload(data), headers=headers)
        assert r.json()["errors"][0]["cell"] == "L2"
