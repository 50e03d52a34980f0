"""The audit log: live filtering (HTMX, filters kept in the URL), keyset pages, one entry in full."""

from __future__ import annotations

from typing import Any, get_args

from starlette.requests import Request
from starlette.responses import Response

from admin_ui.console import console_of
from admin_ui.views.common import filtered_page
from core.auth.permissions import requires
from core.errors import NotFound
from core.operations import records
from core.operations.filters import AuditKind, LogFilters

# Every kind of entry the gateway writes, as the API's filter takes them.
KINDS = list(get_args(AuditKind))


@requires("audit.read")
async def list_logs(request: Request) -> Response:
    """Filter by status, date range, user, endpoint, platform and kind; newest first."""
    console = console_of(request)
    f, page, errors, status = await filtered_page(
        request.query_params,
        LogFilters,
        console.page_size,
        lambda f: records.list_logs(console.gateway.db, f),
        lambda f: records.count_logs(console.gateway.db, f, bound=console.settings.list_total_bound),
    )
    context = {
        "f": f,
        "errors": errors,
        "page": page,
        "kinds": KINDS,
        "platforms": sorted(console.gateway.adapters),
    }
    return console.render(request, "logs.html", context, block="results", status_code=status)


@requires("audit.read")
async def show_log(request: Request) -> Response:
    """One entry: request metadata, its payload (redacted as the audit log is) and its error."""
    console = console_of(request)
    entry = await records.get_log(console.gateway.db, int(request.path_params["id"]))
    if entry is None:
        raise NotFound("no such log entry")
    detail: Any = entry.get("detail")
    # Stored already redacted; redacted again with today's keys, in case the list grew since.
    entry["detail"] = console.gateway.audit.redact(detail) if detail is not None else None
    return console.render(request, "log.html", {"e": entry})
