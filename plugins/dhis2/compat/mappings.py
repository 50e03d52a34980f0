"""dhis2gw's mapping routes: list, CSV/Excel import, Excel export and template.

They read and write Switchboard's two mapping tables, in dhis2gw's JSON and file layout.
An import keeps Switchboard's checks (a bad file imports nothing) and its update semantics
(a row for an existing key updates it; dhis2gw kept the first).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import gateway_of, max_body, requires
from plugins.dhis2.compat.answers import error, go_time
from plugins.dhis2.mappings import importer, store
from plugins.dhis2.mappings.exports import XLSX_MEDIA_TYPE, workbook
from plugins.dhis2.mappings.tabular import FileProblem, detect_format, read_table
from plugins.dhis2.uids import uid_from

if TYPE_CHECKING:
    from plugins.dhis2.context import DHIS2Context

HEADER = (
    "code", "what", "name", "description", "dataset", "dataelement", "category_option_combo",
    "category_option", "category_combo", "instance_name", "source_name", "source_orgunit", "destination_orgunit",
)  # fmt: skip
_JSON_NAMES = {
    "dataset": "dataSet",
    "data_element": "dataElement",
    "category_option_combo": "categoryOptionCombo",
    "category_option": "categoryOption",
    "category_combo": "categoryCombo",
    "instance_name": "instanceName",
    "source_name": "sourceName",
    "source_orgunit": "sourceOrgUnit",
    "destination_orgunit": "destinationOrgUnit",
}


def _mapping_json(
    fields: dict[str, Any], *, what: str, row_id: int | None, created: Any, updated: Any
) -> dict[str, Any]:
    """One mapping as dhis2gw's ``Dhis2Mapping`` JSON (empty fields left out, as Go's omitempty does)."""
    item: dict[str, Any] = {}
    if row_id:
        item["id"] = row_id
        item["uid"] = uid_from(f"mapping:{what}:{row_id}")
    else:
        item["uid"] = ""
    item["code"] = fields.get("code") or ""
    item["what"] = what
    for name in ("name", "description", *_JSON_NAMES):
        value = fields.get(name)
        if value:
            item[_JSON_NAMES.get(name, name)] = value
    item["dimensionType"] = "none"
    item["created"] = go_time(created)
    item["updated"] = go_time(updated)
    return item


def _data_value_json(row: Any) -> dict[str, Any]:
    return _mapping_json(dict(row._mapping), what="de", row_id=row.id, created=row.created_at, updated=row.updated_at)


def _org_unit_json(row: Any) -> dict[str, Any]:
    fields = {"code": row.code, "name": row.name, "source_name": row.source_name, "instance_name": row.instance,
              "source_orgunit": row.code, "destination_orgunit": row.org_unit}  # fmt: skip
    return _mapping_json(fields, what="ou", row_id=row.id, created=row.created_at, updated=row.updated_at)


def _template_bytes(rows: list[list[Any]]) -> bytes:
    return workbook(HEADER, rows)


@requires(public=True)
async def excel_template(request: Request) -> Response:
    """dhis2gw's ``GET /mappings/export/excel-template``: the empty workbook (no data, no login)."""
    data = await asyncio.to_thread(_template_bytes, [])
    return _download(data, "dhis2_mappings_template.xlsx")


def _download(data: bytes, filename: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Content-Description": "File Transfer"}
    return Response(data, media_type=XLSX_MEDIA_TYPE, headers=headers)


class MappingCompatEndpoints:
    def __init__(self, context: DHIS2Context) -> None:
        self.context = context

    def routes(self, prefix: str) -> list[Route]:
        limit = self.context.settings.max_upload_bytes
        return [
            Route(f"{prefix}/mappings", self.index, methods=["GET"]),
            Route(f"{prefix}/mappings/import/csv", max_body(limit)(self.import_csv), methods=["POST"]),
            Route(f"{prefix}/mappings/import/excel", max_body(limit)(self.import_excel), methods=["POST"]),
            Route(f"{prefix}/mappings/export/excel", self.export_excel, methods=["GET"]),
            Route(f"{prefix}/mappings/export/excel-template", excel_template, methods=["GET"]),
        ]

    async def _all(self, request: Request) -> tuple[list[Any], list[Any]]:
        gateway = gateway_of(request)
        values = [row async for batch in store.batches(gateway, store.DATA_VALUES, {}) for row in batch]
        units = [row async for batch in store.batches(gateway, store.ORG_UNITS, {}) for row in batch]
        return values, units

    @requires("dhis2.mappings.read", scopes=["dhis2:mappings"], basic=True)
    async def index(self, request: Request) -> Response:
        """dhis2gw's ``GET /mappings``: every mapping, as a bare array (its filters were never applied)."""
        values, units = await self._all(request)
        found = [*map(_data_value_json, values), *map(_org_unit_json, units)]
        return JSONResponse(found or None)  # Go marshals no mappings as null

    @requires("dhis2.mappings.read", scopes=["dhis2:mappings"], basic=True)
    async def export_excel(self, request: Request) -> Response:
        """dhis2gw's ``GET /mappings/export/excel``: every mapping, data values then org units."""
        values, units = await self._all(request)
        rows: list[list[Any]] = [
            [r.code, "de", r.name, r.description, r.dataset, r.data_element, r.category_option_combo,
             r.category_option, r.category_combo, r.instance_name, r.source_name, None, None]
            for r in values
        ]  # fmt: skip
        rows += [[u.code, "ou", u.name, None, None, None, None, None, None, u.instance or None, u.source_name,
                  u.code, u.org_unit] for u in units]  # fmt: skip
        data = await asyncio.to_thread(_template_bytes, rows)
        return _download(data, "dhis2_mappings.xlsx")

    @requires("dhis2.mappings.manage", scopes=["dhis2:mappings"], basic=True)
    async def import_csv(self, request: Request) -> Response:
        """dhis2gw's ``POST /mappings/import/csv`` (multipart field ``file``)."""
        return await self._import(request, "csv", "CSV")

    @requires("dhis2.mappings.manage", scopes=["dhis2:mappings"], basic=True)
    async def import_excel(self, request: Request) -> Response:
        """dhis2gw's ``POST /mappings/import/excel`` (multipart field ``file``)."""
        return await self._import(request, "xlsx", "Excel")

    async def _import(self, request: Request, expected: str, label: str) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "multipart/form-data":
            return error("No file is received", 400)
        async with request.form(max_files=1, max_fields=20) as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                return error("No file is received", 400)
            data = await upload.read()
        max_rows = self.context.settings.max_import_rows
        try:
            if detect_format(data) != expected:
                raise FileProblem(f"the file is not {label}")
            table = await asyncio.to_thread(read_table, data, max_rows=max_rows)
            parsed = importer.parse_rows(table, org_units=False)
        except FileProblem as err:
            return error(f"Failed to parse {label}", 400, details=str(err))
        if parsed.errors:
            shown = [
                f"row {e['row']}" + (f", column {e['column']}" if e.get("column") else "") + f": {e['message']}"
                for e in parsed.errors[:20]
            ]
            return error(f"Failed to parse {label}", 400, details="; ".join(shown))
        gateway = gateway_of(request)
        async with gateway.db.transaction() as conn:
            await importer.apply(conn, store.DATA_VALUES, parsed.data_values, dry_run=False)
            await importer.apply(conn, store.ORG_UNITS, parsed.org_units, dry_run=False)
        principal = request.state.principal
        gateway.audit.record(
            "admin",
            action="dhis2.mappings.import",
            request_id=getattr(request.state, "request_id", None),
            actor=principal.label,
            actor_type=principal.kind,
            detail={"format": expected, "rows": len(table.rows), "via": "dhis2gw"},
        )
        records = [_mapping_json(r, what="de", row_id=None, created=None, updated=None) for r in parsed.data_values]
        records += [
            _mapping_json({"code": u["code"], "name": u["name"], "source_name": u["source_name"],
                           "instance_name": u["instance"], "source_orgunit": u["code"],
                           "destination_orgunit": u["org_unit"]}, what="ou", row_id=None, created=None, updated=None)
            for u in parsed.org_units
        ]  # fmt: skip
        return JSONResponse({"total": len(table.rows), "records": records})
