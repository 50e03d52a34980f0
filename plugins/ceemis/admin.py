"""The console's "CEEMIS cases" page (``switchboard_admin_pages``): look a case up, see the latest.

Mounted by the admin UI at ``/admin/ceemis/cases``. ``?reference=`` (any of the case's names:
src_uid, src_callid, the gateway's message id or the CEEMIS id) shows what the API's
``/plugins/ceemis/cases/{reference}`` answers (``cases.case_report``), with the deliveries of
the case and of each update; without it, the cases received most recently, a keyset page at a time.
The page only reads: nothing on it changes a case.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core import AdminPage, Gateway, admin_console, bounded_int, gateway_of, message_deliveries, requires
from plugins.ceemis.cases import case_report, recent_cases

TEMPLATES = Path(__file__).parent / "admin_templates"
PATH = "/ceemis/cases"
_REFERENCE_LIMIT = 255  # the longest reference the tables hold


def admin_page() -> AdminPage:
    """The page, for viewers and up (the API's case status is a viewer's too)."""
    return AdminPage(
        path=PATH,
        title="CEEMIS cases",
        routes=[Route("/", cases_page, methods=["GET"])],
        templates=str(TEMPLATES),
        permission="content.read",
    )


async def _with_deliveries(gateway: Gateway, report: dict[str, Any]) -> dict[str, Any]:
    """The report with each message's deliveries (``deliveries`` on the case and on every update)."""
    ids = [uuid.UUID(m) for m in [report.get("message_id"), *(u["message_id"] for u in report["updates"])] if m]
    found = await message_deliveries(gateway, ids)
    report["deliveries"] = found.get(uuid.UUID(report["message_id"]), []) if report.get("message_id") else []
    for update in report["updates"]:
        update["deliveries"] = found.get(uuid.UUID(update["message_id"]), [])
    return report


@requires("content.read")
async def cases_page(request: Request) -> Response:
    """The lookup form and its answer (the ``case`` block for an HTMX lookup), or the latest cases."""
    console = admin_console(request)
    gateway = gateway_of(request)
    reference = request.query_params.get("reference", "").strip()[:_REFERENCE_LIMIT]
    cursor = bounded_int(request.query_params.get("cursor", ""), low=0)
    before = bounded_int(request.query_params.get("before", ""), low=0)
    report = await case_report(gateway, reference) if reference else None
    if report is not None:
        report = await _with_deliveries(gateway, report)
    recent: dict[str, Any] = {"items": [], "next": None, "previous": None, "total": None}
    if not reference:
        recent = await recent_cases(gateway, limit=console.page_size, cursor=cursor, before=before)
    links = {
        "newest": "" if recent["previous"] is not None else None,
        "newer": f"before={recent['previous']}" if recent["previous"] is not None else None,
        "older": f"cursor={recent['next']}" if recent["next"] is not None else None,
    }
    context = {
        "reference": reference,
        "report": report,
        "recent": recent["items"],
        "page": {"total": recent["total"], "links": links},
    }
    # Not found is a 404 for the whole page; an HTMX lookup (which swaps 2xx answers only) gets it in place.
    missing = bool(reference) and report is None
    htmx = request.headers.get("hx-request") == "true"
    status = 404 if missing and not htmx else 200
    return console.render(request, "ceemis_cases.html", context, block="case", status_code=status)
