"""The mapping endpoints: import a file, list, template, export, delete; for data values and org units.

``/plugins/dhis2/mappings`` (data-value mappings) and ``/plugins/dhis2/orgunit-mappings``
answer the same requests. Importing and deleting need the operator role; reading, the
viewer role; an API key needs the scope ``dhis2:mappings`` (a script keeping mappings in
step with a spreadsheet in version control).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from core import BadRequest, HTTPError, NotFound, Unprocessable, bounded_int, describe, max_body, requires
from plugins.dhis2.mappings import exports, importer, store
from plugins.dhis2.mappings.metadata import verify_rows
from plugins.dhis2.mappings.tabular import FileProblem, read_table

if TYPE_CHECKING:
    from plugins.dhis2.context import DHIS2Context

_UPLOAD_TYPES = (
    "text/csv",
    "text/plain",
    "application/csv",
    "application/octet-stream",
    exports.XLSX_MEDIA_TYPE,
)
# dhis2gw's camelCase filter names, accepted beside ours.
_FILTER_ALIASES = {
    "dataSet": "dataset",
    "dataElement": "data_element",
    "categoryOptionCombo": "category_option_combo",
    "attributeOptionCombo": "attribute_option_combo",
    "instanceName": "instance_name",
    "sourceName": "source_name",
    "orgUnit": "org_unit",
}


def flag(request: Request, name: str) -> bool:
    """A boolean query parameter (``true``/``false``, ``1``/``0``); 422 for anything else."""
    value = request.query_params.get(name, "false").strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise Unprocessable(f"{name} must be true or false", errors=[{"field": name, "message": "expected true or false"}])


# The multipart form of an import: the CSV or XLSX file in the field ``file``.
_UPLOAD: dict[str, Any] = {
    "type": "object",
    "properties": {"file": {"type": "string", "format": "binary"}},
    "required": ["file"],
}


async def uploaded_file(request: Request) -> bytes:
    """The uploaded file: the multipart field ``file``, or the whole body sent as CSV/XLSX."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        async with request.form(max_files=1, max_fields=20) as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise BadRequest(
                    "no file was sent",
                    errors=[{"field": "file", "message": "send the file in the multipart field `file`"}],
                )
            return await upload.read()
    if content_type in _UPLOAD_TYPES:
        return await request.body()
    raise HTTPError(
        "send the mapping file as multipart/form-data (field `file`), or as the body with a CSV or XLSX content type",
        status_code=415,
    )


class MappingEndpoints:
    """The endpoints of one mapping table (``store.DATA_VALUES`` or ``store.ORG_UNITS``)."""

    def __init__(self, context: DHIS2Context, kind: store.Kind, prefix: str) -> None:
        self.context = context
        self.kind = kind
        self.prefix = prefix
        self.org_units = kind is store.ORG_UNITS
        self.header = importer.ORG_UNIT_HEADER if self.org_units else importer.DATA_VALUE_HEADER
        self.notes = exports.ORG_UNIT_NOTES if self.org_units else exports.DATA_VALUE_NOTES
        self.filename = "dhis2-orgunit-mappings" if self.org_units else "dhis2-mappings"

    def routes(self) -> list[Route]:
        limit = self.context.settings.max_upload_bytes
        p = self.prefix
        return [
            Route(f"{p}/import", max_body(limit)(self.import_file), methods=["POST"]),
            Route(p, self.index, methods=["GET"]),
            Route(f"{p}/template.xlsx", self.template, methods=["GET"]),
            Route(f"{p}/export.xlsx", self.export_xlsx, methods=["GET"]),
            Route(f"{p}/export.csv", self.export_csv, methods=["GET"]),
            Route(f"{p}/{{mapping_id:int}}", self.one, methods=["GET"]),
            Route(f"{p}/{{mapping_id:int}}", self.delete, methods=["DELETE"]),
        ]

    def filters(self, request: Request, *, allowed_extra: tuple[str, ...] = ()) -> dict[str, str]:
        filters: dict[str, str] = {}
        errors = []
        for key, value in request.query_params.items():
            name = _FILTER_ALIASES.get(key, key)
            if name in self.kind.filters:
                filters[name] = value.strip()
            elif key not in allowed_extra:
                errors.append({"field": key, "message": f"unknown filter; expected {', '.join(self.kind.filters)}"})
        if errors:
            raise Unprocessable("unknown query parameter", errors=errors)
        return filters

    @requires("dhis2.mappings.manage", scopes=["dhis2:mappings"])
    @describe(body=_UPLOAD, content_type="multipart/form-data", responses={200: {"type": "object"}})
    async def import_file(self, request: Request) -> Response:
        """Import mappings from a CSV or XLSX file (all rows or none).

        Multipart field ``file``. ``?dry_run=true`` reports what would change without
        changing anything; ``?verify=true`` also checks every uid against the DHIS2 instance
        (the row's ``instance_name``, else ``?instance=``, else the default instance).
        """
        dry_run = flag(request, "dry_run")
        verify = flag(request, "verify")
        data = await uploaded_file(request)
        instance = request.query_params.get("instance")
        result = await self.run_import(request, data, dry_run=dry_run, verify=verify, instance=instance)
        return JSONResponse(result)

    async def run_import(
        self, request: Request, data: bytes, *, dry_run: bool, verify: bool = False, instance: str | None = None
    ) -> dict[str, Any]:
        """Import a CSV or XLSX file's mappings (all rows or none); what changed (or would, dry).

        Raises ``HTTPError`` (422 with ``errors``: row, column, cell, message) for a file with
        problems; the console's page shows the same errors as a table.
        """
        fallback = self.context.instance_for(instance) if verify else None
        max_rows = self.context.settings.max_import_rows
        try:
            table, parsed = await asyncio.to_thread(self._parse, data, max_rows)
        except FileProblem as err:
            column = err.column
            raise HTTPError(
                str(err),
                status_code=err.status,
                errors=[{"row": err.row, "column": column, "cell": None, "message": str(err)}] if err.row else None,
            ) from err
        errors = parsed.errors
        if verify and not errors:
            assert fallback is not None
            try:
                errors = await verify_rows(
                    self.context.metadata,
                    parsed.data_values,
                    parsed.org_units,
                    lambda name: self.context.client_for_mapping(name, fallback),
                )
            except httpx.HTTPError as err:
                raise HTTPError(
                    f"could not check the uids with DHIS2 instance {fallback!r}: {type(err).__name__}: {err}",
                    status_code=502,
                ) from err
        if errors:
            shown = errors[: importer.MAX_REPORTED_ERRORS]
            more = f" (the first {len(shown)} are listed)" if len(errors) > len(shown) else ""
            raise Unprocessable(f"the file has {len(errors)} problem(s){more}; nothing was imported", errors=shown)
        gateway = self.context.gateway
        async with gateway.db.transaction() as conn:
            values = await importer.apply(conn, store.DATA_VALUES, parsed.data_values, dry_run=dry_run)
            units = await importer.apply(conn, store.ORG_UNITS, parsed.org_units, dry_run=dry_run)
        result = {
            "dry_run": dry_run,
            "verified": verify,
            "format": table.format,
            "rows": len(table.rows),
            "data_values": values.as_dict(),
            "org_units": units.as_dict(),
        }
        if not dry_run:
            principal = request.state.principal
            gateway.audit.record(
                "admin",
                action="dhis2.mappings.import",
                request_id=getattr(request.state, "request_id", None),
                actor=principal.label,
                actor_type=principal.kind,
                detail={
                    "format": table.format,
                    "rows": len(table.rows),
                    **{f"data_values_{k}": getattr(values, k) for k in ("created", "updated", "unchanged")},
                    **{f"org_units_{k}": getattr(units, k) for k in ("created", "updated", "unchanged")},
                },
            )
        return result

    def _parse(self, data: bytes, max_rows: int) -> tuple[Any, importer.Parsed]:
        table = read_table(data, max_rows=max_rows)
        return table, importer.parse_rows(table, org_units=self.org_units)

    @requires("dhis2.mappings.read", scopes=["dhis2:mappings"])
    async def index(self, request: Request) -> Response:
        """List mappings, filtered, a keyset page at a time: ``{"items": […], "next": cursor}``."""
        filters = self.filters(request, allowed_extra=("limit", "cursor"))
        errors = []
        limit_text = request.query_params.get("limit", "100")
        cursor_text = request.query_params.get("cursor")
        limit = bounded_int(limit_text) or 0
        if not 1 <= limit <= 1000:
            errors.append({"field": "limit", "message": "expected a number from 1 to 1000"})
        after = bounded_int(cursor_text, low=0)
        if cursor_text is not None and after is None:
            errors.append({"field": "cursor", "message": "expected the `next` value of a previous page"})
        if errors:
            raise Unprocessable("invalid query", errors=errors)
        async with self.context.gateway.db.transaction() as conn:
            rows, next_id = await store.page(conn, self.kind, filters, limit=limit, after=after)
        return JSONResponse(
            {"items": [store.as_dict(r, self.kind) for r in rows], "next": str(next_id) if next_id else None}
        )

    @requires("dhis2.mappings.read", scopes=["dhis2:mappings"])
    async def one(self, request: Request) -> Response:
        """One mapping."""
        mapping_id = request.path_params["mapping_id"]
        async with self.context.gateway.db.transaction() as conn:
            row = await store.get(conn, self.kind, mapping_id)
        if row is None:
            raise NotFound(f"no mapping {mapping_id}")
        return JSONResponse(store.as_dict(row, self.kind))

    @requires("dhis2.mappings.manage", scopes=["dhis2:mappings"])
    async def delete(self, request: Request) -> Response:
        """Delete one mapping."""
        mapping_id = request.path_params["mapping_id"]
        async with self.context.gateway.db.transaction() as conn:
            deleted = await store.delete(conn, self.kind, mapping_id)
        if not deleted:
            raise NotFound(f"no mapping {mapping_id}")
        principal = request.state.principal
        self.context.gateway.audit.record(
            "admin",
            action="dhis2.mappings.delete",
            request_id=getattr(request.state, "request_id", None),
            actor=principal.label,
            actor_type=principal.kind,
            detail={"table": self.kind.name, "id": mapping_id},
        )
        return Response(status_code=204)

    @requires("dhis2.mappings.read", scopes=["dhis2:mappings"])
    async def template(self, request: Request) -> Response:
        """An empty XLSX mapping file with the expected columns (the dhis2gw layout) and their meaning."""
        return await self.template_response()

    async def template_response(self) -> Response:
        """The template download (for this route and the console's page)."""
        data = await asyncio.to_thread(exports.template, self.header, self.notes)
        return self._download(data, exports.XLSX_MEDIA_TYPE, f"{self.filename}-template.xlsx")

    def _export_header(self) -> tuple[str, ...]:
        # Data-value exports leave out the org-unit columns of the dhis2gw layout.
        return self.header if self.org_units else self.header[:12]

    def _export_row(self, row: Any) -> list[Any]:
        if self.org_units:
            return [row.code, row.org_unit, row.name, row.instance, row.source_name]
        return [
            row.code,
            "de",
            row.name,
            row.description,
            row.dataset,
            row.data_element,
            row.category_option_combo,
            row.category_option,
            row.category_combo,
            row.instance_name,
            row.source_name,
            row.attribute_option_combo,
        ]

    @requires("dhis2.mappings.read", scopes=["dhis2:mappings"])
    async def export_xlsx(self, request: Request) -> Response:
        """Every (filtered) mapping as an XLSX file that imports back unchanged."""
        return await self.xlsx_response(self.filters(request))

    async def xlsx_response(self, filters: dict[str, str]) -> Response:
        """The XLSX export of the mappings matching ``filters``."""
        rows: list[list[Any]] = []
        async for batch in store.batches(self.context.gateway, self.kind, filters):
            rows.extend(self._export_row(r) for r in batch)
        data = await asyncio.to_thread(exports.workbook, self._export_header(), rows, notes=self.notes)
        return self._download(data, exports.XLSX_MEDIA_TYPE, f"{self.filename}.xlsx")

    @requires("dhis2.mappings.read", scopes=["dhis2:mappings"])
    async def export_csv(self, request: Request) -> Response:
        """Every (filtered) mapping as CSV (UTF-8), streamed."""
        return self.csv_response(self.filters(request))

    def csv_response(self, filters: dict[str, str]) -> Response:
        """The CSV export (streamed) of the mappings matching ``filters``."""
        header = self._export_header()

        async def lines() -> AsyncIterator[bytes]:
            yield ("\ufeff" + exports.csv_lines(header, [])).encode()
            async for batch in store.batches(self.context.gateway, self.kind, filters):
                rows = [self._export_row(r) for r in batch]
                yield exports.csv_lines(header, rows, with_header=False).encode()

        stamp = datetime.now(UTC).strftime("%Y%m%d")
        return StreamingResponse(
            lines(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{self.filename}-{stamp}.csv"'},
        )

    @staticmethod
    def _download(data: bytes, media_type: str, filename: str) -> Response:
        return Response(
            data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
        )
