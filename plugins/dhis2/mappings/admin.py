"""The console's "DHIS2 mappings" page (``switchboard_admin_pages``): search, upload, preview, download.

Mounted by the admin UI at ``/admin/dhis2/mappings``. The page lists one mapping table
(``?kind=data_values``, the default, or ``org_units``) a keyset page at a time, searched by
code prefix or name; an operator uploads a CSV or XLSX file (a dry run previews the changes),
and a file with problems is shown as a table of its rows and columns, nothing imported.
The work is the API's (``MappingEndpoints``); only the HTML is this module's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core import (
    AdminPage,
    HTTPError,
    Unprocessable,
    admin_console,
    bounded_int,
    count_at_most,
    keyset_page,
    max_body,
    requires,
)
from plugins.dhis2.mappings import store
from plugins.dhis2.mappings.routes import MappingEndpoints

if TYPE_CHECKING:
    from plugins.dhis2.context import DHIS2Context

TEMPLATES = Path(__file__).parent / "admin_templates"
PATH = "/dhis2/mappings"
_SEARCH_LIMIT = 100  # characters of a search


class MappingsPage:
    """The page's endpoints, over the two mapping tables' API endpoints."""

    def __init__(self, context: DHIS2Context) -> None:
        self.context = context
        self.tables = {
            store.DATA_VALUES.name: MappingEndpoints(context, store.DATA_VALUES, "/mappings"),
            store.ORG_UNITS.name: MappingEndpoints(context, store.ORG_UNITS, "/orgunit-mappings"),
        }

    def admin_page(self) -> AdminPage:
        limit = self.context.settings.max_upload_bytes
        return AdminPage(
            path=PATH,
            title="DHIS2 mappings",
            routes=[
                Route("/", self.index, methods=["GET"]),
                Route("/upload", max_body(limit)(self.upload), methods=["POST"]),
                Route("/template.xlsx", self.template, methods=["GET"]),
                Route("/export.csv", self.export_csv, methods=["GET"]),
                Route("/export.xlsx", self.export_xlsx, methods=["GET"]),
            ],
            templates=str(TEMPLATES),
            permission="dhis2.mappings.read",
        )

    def endpoints(self, value: Any) -> MappingEndpoints:
        name = value if isinstance(value, str) and value else store.DATA_VALUES.name
        if name not in self.tables:
            raise Unprocessable(
                "unknown mapping table",
                errors=[{"field": "kind", "message": f"expected one of {', '.join(self.tables)}"}],
            )
        return self.tables[name]

    @staticmethod
    def filters(request: Request, endpoints: MappingEndpoints) -> dict[str, str]:
        """The table's exact filters present (and non-empty) in the query string."""
        return {k: v.strip() for k, v in request.query_params.items() if k in endpoints.kind.filters and v.strip()}

    @requires("dhis2.mappings.read")
    async def index(self, request: Request) -> Response:
        """The list (the ``results`` block for an HTMX search), with the upload form for an operator."""
        endpoints = self.endpoints(request.query_params.get("kind"))
        return await self._page(request, endpoints)

    async def _page(
        self,
        request: Request,
        endpoints: MappingEndpoints,
        *,
        outcome: dict[str, Any] | None = None,
        problem: HTTPError | None = None,
        filename: str = "",
        dry_run: bool = False,
    ) -> Response:
        console = admin_console(request)
        params = request.query_params
        search = params.get("q", "").strip()[:_SEARCH_LIMIT]
        after = bounded_int(params.get("cursor", ""), low=0)
        before = bounded_int(params.get("before", ""), low=0)
        filters = self.filters(request, endpoints)
        matching = store.matching(endpoints.kind, filters, search or None)
        key = endpoints.kind.table.c.id
        async with self.context.gateway.db.transaction() as conn:
            found = await keyset_page(
                conn, matching, key, limit=console.page_size, cursor=after, before=before, descending=False
            )
            total = await count_at_most(conn, matching.with_only_columns(key))
        rows = found.rows
        kind = endpoints.kind.name
        query = {"kind": kind, "q": search, **filters}
        kept = urlencode({k: v for k, v in query.items() if v})
        links = {  # in code order: First, Previous, Next
            "newest": kept if found.previous is not None else None,
            "newer": f"{kept}&before={found.previous}" if found.previous is not None else None,
            "older": f"{kept}&cursor={found.next}" if found.next is not None else None,
        }
        context = {
            "kind": kind,
            "kinds": list(self.tables),
            "fields": ("code", "org_unit", "name", "instance", "source_name")
            if endpoints.org_units
            else ("code", "dataset", "data_element", "category_option_combo", "name", "instance_name"),
            "rows": [store.as_dict(r, endpoints.kind) for r in rows],
            "search": search,
            "filters": filters,
            "query": {k: v for k, v in query.items() if v},
            "page": {"total": total, "links": links},
            "outcome": outcome,
            "problem": problem,
            "problem_errors": list(getattr(problem, "errors", None) or []) if problem else [],
            "filename": filename,
            "dry_run": dry_run,
        }
        status = problem.status_code if problem is not None else 200
        return console.render(request, "dhis2_mappings.html", context, block="results", status_code=status)

    @requires("dhis2.mappings.manage")
    async def upload(self, request: Request) -> Response:
        """Import (or, with ``dry_run``, preview) an uploaded file; its problems as a table, by row and column."""
        async with request.form(max_files=1, max_fields=20) as form:
            endpoints = self.endpoints(form.get("kind"))
            dry_run = form.get("dry_run") in ("1", "true", "on")
            upload = form.get("file")
            if upload is None or isinstance(upload, str) or not upload.filename:
                problem: HTTPError | None = Unprocessable(
                    "choose a CSV or XLSX file to upload",
                    errors=[{"field": "file", "message": "no file was sent"}],
                )
                return await self._page(request, endpoints, problem=problem, dry_run=dry_run)
            filename = upload.filename
            data = await upload.read()
        outcome: dict[str, Any] | None = None
        problem = None
        try:
            outcome = await endpoints.run_import(request, data, dry_run=dry_run)
        except HTTPError as err:
            problem = err
        return await self._page(
            request, endpoints, outcome=outcome, problem=problem, filename=filename, dry_run=dry_run
        )

    @requires("dhis2.mappings.read")
    async def template(self, request: Request) -> Response:
        """The table's empty XLSX template."""
        return await self.endpoints(request.query_params.get("kind")).template_response()

    @requires("dhis2.mappings.read")
    async def export_csv(self, request: Request) -> Response:
        """The table's (filtered) mappings as CSV."""
        endpoints = self.endpoints(request.query_params.get("kind"))
        return endpoints.csv_response(self.filters(request, endpoints))

    @requires("dhis2.mappings.read")
    async def export_xlsx(self, request: Request) -> Response:
        """The table's (filtered) mappings as XLSX (imports back unchanged)."""
        endpoints = self.endpoints(request.query_params.get("kind"))
        return await endpoints.xlsx_response(self.filters(request, endpoints))
