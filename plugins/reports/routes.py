"""``/plugins/reports/…``: ask for a report, follow it, list yours, and download it through a signed link.

Operators (and API keys with ``reports:write``) ask for reports; every signed-in user and key
with ``reports:read`` follows and lists their own; admins see everyone's. A key owns its
reports as itself. The download route is public: its signature is its authentication.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from core import (
    Forbidden,
    Gateway,
    NotFound,
    Principal,
    ReportType,
    Unprocessable,
    gateway_of,
    path_uuid,
    principal_of,
    read_json,
    requires,
)
from plugins.reports import links, service
from plugins.reports.storage import LocalStorage
from plugins.reports.writers import MEDIA_TYPES

ADMIN_SCOPE = "reports:admin"
# reports:admin is named on the routes too, so it is a scope a key may be given.
READ, WRITE = ["reports:read", "reports:write", ADMIN_SCOPE], ["reports:write", ADMIN_SCOPE]


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=64)
    format: Literal["csv", "xlsx", "json"]
    params: dict[str, Any] = Field(default_factory=dict)


def owner_of(principal: Principal) -> str:
    return f"{principal.kind}:{principal.id}"


def is_admin(principal: Principal) -> bool:
    if principal.kind == "user":
        return principal.can("reports.manage")
    return principal.has_scope(ADMIN_SCOPE)


def visible_owner(principal: Principal) -> str | None:
    """Whose reports ``principal`` sees: their own, or (``None``) everyone's for an admin."""
    return None if is_admin(principal) else owner_of(principal)


def report_id_of(request: Request) -> uuid.UUID:
    """The report id in the path; an id that is not a UUID is a report that does not exist (404)."""
    return path_uuid(request, "report_id", "report")


async def view(request: Request, row: Any) -> dict[str, Any]:
    """The report as the API shows it; a completed one carries a download link and its expiry."""
    out: dict[str, Any] = {
        "id": str(row.id),
        "type": row.type,
        "format": row.format,
        "params": row.params,
        "status": row.status,
        "owner": row.owner_label,
        "created_at": row.created_at.isoformat(),
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "row_count": row.row_count,
        "size_bytes": row.size_bytes,
    }
    if row.status == "failed":
        out |= {"failed_at": row.failed_at.isoformat() if row.failed_at else None, "error": row.error}
    if row.status == "completed":
        out["completed_at"] = row.completed_at.isoformat() if row.completed_at else None
        out |= await download_link(request, row)
    return out


async def download_link(request: Request, row: Any) -> dict[str, Any]:
    return await service.download_link(gateway_of(request), row, str(request.base_url))


async def ask_for(gateway: Gateway, principal: Principal, body: ReportIn) -> Any:
    """Store the report ``principal`` asks for (pending); 422 naming a bad type or param, 403 an admin's type."""
    report_type = service.catalogue(gateway).get(body.type)
    if report_type is None:
        raise Unprocessable(
            "unknown report type", errors=[{"field": "type", "message": f"no report type {body.type!r}"}]
        )
    if report_type.admin_only and not is_admin(principal):
        raise Forbidden(f"the {body.type} report is for administrators")
    params = report_type.check_params(body.params)
    return await service.create(
        gateway,
        owner=owner_of(principal),
        owner_label=principal.label,
        type_name=body.type,
        fmt=body.format,
        params=params,
    )


def types_for(gateway: Gateway, principal: Principal) -> list[ReportType]:
    """The report types ``principal`` may ask for (an admin's types only for admins)."""
    return [t for t in service.catalogue(gateway).values() if is_admin(principal) or not t.admin_only]


@requires("reports.request", scopes=WRITE)
async def create_report(request: Request) -> Response:
    """Ask for a report: 202 with its id at once; a worker generates it."""
    body = await read_json(request, ReportIn)
    row = await ask_for(gateway_of(request), principal_of(request), body)
    return JSONResponse({"id": str(row.id), "status": row.status}, status_code=202)


@requires("reports.read", scopes=READ)
async def get_report(request: Request) -> Response:
    """A report's state; yours only, unless you are an admin (someone else's is a 404)."""
    principal = principal_of(request)
    row = await service.get(gateway_of(request), report_id_of(request), visible_owner(principal))
    return JSONResponse(await view(request, row))


@requires("reports.request", scopes=WRITE)
async def delete_report(request: Request) -> Response:
    """Delete a report and its file; its links stop working (404)."""
    principal = principal_of(request)
    gateway = gateway_of(request)
    row = await service.get(gateway, report_id_of(request), visible_owner(principal))
    await service.delete(gateway, row)
    return Response(status_code=204)


@requires("reports.read", scopes=READ)
async def list_reports(request: Request) -> Response:
    """Your reports (an admin's: everyone's), newest first; ``limit`` and ``cursor`` page them."""
    principal = principal_of(request)
    try:
        limit = int(request.query_params.get("limit", "50"))
        if not 1 <= limit <= 200:
            raise ValueError
    except ValueError as err:
        raise Unprocessable(
            "invalid limit", errors=[{"field": "limit", "message": "an integer from 1 to 200"}]
        ) from err
    cursor = request.query_params.get("cursor")
    before = None
    if cursor:
        try:
            before = uuid.UUID(cursor)
        except ValueError as err:
            raise Unprocessable("invalid cursor", errors=[{"field": "cursor", "message": "not a cursor"}]) from err
    rows, last = await service.page(gateway_of(request), visible_owner(principal), before, limit)
    items = [await view(request, row) for row in rows]
    return JSONResponse({"items": items, "next_cursor": str(last) if last else None})


@requires("reports.read", scopes=READ)
async def list_types(request: Request) -> Response:
    """The report types you may ask for, with their columns."""
    types = [
        {"name": t.name, "title": t.title, "columns": list(t.columns), "admin_only": t.admin_only}
        for t in types_for(gateway_of(request), principal_of(request))
    ]
    return JSONResponse({"items": types})


# Public: whoever holds the link may download, as with a presigned S3 URL. The HMAC over the
# id and the expiry is the authentication (a key only the gateway has), checked before the
# report is even looked up: an expired or altered link is a 403, a deleted report a 404.
@requires(public=True)
async def download(request: Request) -> Response:
    gateway = gateway_of(request)
    report_id = report_id_of(request)
    q = request.query_params
    if not links.link_is_valid(gateway, report_id, q.get("expires"), q.get("signature")):
        raise Forbidden("this download link is invalid or has expired")
    row = await service.get(gateway, report_id, None)
    if row.status != "completed" or not row.storage_key:
        raise NotFound("this report has no file")
    storage = service.storage_of(gateway)
    if isinstance(storage, LocalStorage):
        path = storage.path(row.storage_key)
        if not path.is_file():
            raise NotFound("this report's file is gone")
        if storage.sealed:  # opened a chunk at a time as it is sent (Starlette iterates it in a thread)
            return StreamingResponse(
                storage.chunks(row.storage_key),
                media_type=MEDIA_TYPES[row.format],
                headers={"Content-Disposition": attachment(service.filename(row))},
            )
        return FileResponse(path, media_type=MEDIA_TYPES[row.format], filename=service.filename(row))
    url = await storage.presigned_url(row.storage_key, 300, service.filename(row))
    return RedirectResponse(url, status_code=307)


def reports_routes() -> list[BaseRoute]:
    return [
        Route("/types", list_types, methods=["GET"]),
        Route("/reports", list_reports, methods=["GET"]),
        Route("/reports", create_report, methods=["POST"]),
        Route("/reports/{report_id}", get_report, methods=["GET"]),
        Route("/reports/{report_id}", delete_report, methods=["DELETE"]),
        Route("/download/{report_id}", download, methods=["GET"]),
    ]


def attachment(filename: str) -> str:
    """A Content-Disposition for ``filename``, as Starlette's FileResponse writes it."""
    quoted = quote(filename)
    return f"attachment; filename*=utf-8''{quoted}" if quoted != filename else f'attachment; filename="{filename}"'
