"""The console's "Reports" page (``switchboard_admin_pages``): request, follow, download and delete reports.

Mounted by the admin UI at ``/admin/reports``. An operator requests a report (a type of any
plugin, a format, a period and, for a type that takes more, its other params as JSON); the
list shows the caller's reports (an admin's: everyone's), and a pending or running one polls
its own row until it ends. Everyone sees the scheduled reports (their state, next run and
last runs; recipients for admins only); operators run one now, admins enable, disable and
remove them (a run not yet ended polls its schedule's row). The work is the API's (``routes``, ``schedule_routes``, ``service``); only
the HTML is this module's.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from core import (
    RELATIVE_PERIODS,
    AdminPage,
    NotFound,
    Unprocessable,
    admin_console,
    gateway_of,
    principal_of,
    requires,
)
from plugins.reports import service
from plugins.reports.routes import ReportIn, ask_for, report_id_of, types_for, view, visible_owner
from plugins.reports.schedule_routes import remove_schedule, run, switch, view_of, views

TEMPLATES = Path(__file__).parent / "admin_templates"
PATH = "/reports"
HOME = f"/admin{PATH}/"
FORMATS = ("csv", "xlsx", "json")
PERIODS = RELATIVE_PERIODS
FORM_FIELDS = ("type", "format", "period", "start", "end", "more")


def admin_page() -> AdminPage:
    return AdminPage(
        path=PATH,
        title="Reports",
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/request", request_report, methods=["POST"]),
            Route("/schedules/{name}", schedule_row, methods=["GET"]),
            Route("/schedules/{name}/run", run_schedule, methods=["POST"]),
            Route("/schedules/{name}/enable", enable_schedule, methods=["POST"]),
            Route("/schedules/{name}/disable", disable_schedule, methods=["POST"]),
            Route("/schedules/{name}/delete", delete_schedule, methods=["POST"]),
            Route("/{report_id}", report_row, methods=["GET"]),
            Route("/{report_id}/delete", delete_report, methods=["POST"]),
        ],
        templates=str(TEMPLATES),
        permission="reports.read",
    )


def _field_errors(err: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in err.errors()]


def params_of(form: FormData) -> dict[str, Any]:
    """A type's params from the form: the period (relative, or from/to), then any others given as JSON."""
    params: dict[str, Any] = {}
    more = str(form.get("more") or "").strip()
    if more:
        try:
            extra = orjson.loads(more)
        except orjson.JSONDecodeError as err:
            raise Unprocessable("invalid params", errors=[{"field": "params", "message": "not JSON"}]) from err
        if not isinstance(extra, dict):
            raise Unprocessable("invalid params", errors=[{"field": "params", "message": "expected a JSON object"}])
        params |= extra
    for name in ("period", "start", "end"):
        value = str(form.get(name) or "").strip()
        if value:
            params[name] = value
    return params


@requires("reports.read")
async def index(request: Request) -> Response:
    """The request form (operators), the caller's reports a page at a time, and the schedules (admins)."""
    return await _page(request)


async def _page(
    request: Request,
    *,
    form: dict[str, str] | None = None,
    problem: Unprocessable | None = None,
    status_code: int = 200,
) -> Response:
    console = admin_console(request)
    gateway = gateway_of(request)
    principal = principal_of(request)
    cursor = request.query_params.get("cursor", "")
    try:
        before = uuid.UUID(cursor) if cursor else None
    except ValueError as err:
        raise Unprocessable("invalid cursor", errors=[{"field": "cursor", "message": "not a cursor"}]) from err
    rows, last = await service.page(gateway, visible_owner(principal), before, console.page_size)
    errors = {str(e.get("field")): str(e.get("message")) for e in (problem.errors or [])} if problem else {}
    placed = {"type", "format", "params.period", "params.start", "params.end"}
    context = {
        "reports": [await view(request, row) for row in rows],
        "next_cursor": str(last) if last else None,
        "paged": before is not None,
        "types": types_for(gateway, principal),
        "formats": FORMATS,
        "periods": PERIODS,
        "form": {"format": "csv", "period": "last_week"} | (form or {}),
        "problem": problem,
        "errors": errors,
        "other_errors": [(f, m) for f, m in errors.items() if f not in placed],
        "schedules": await views(gateway, principal),
    }
    return console.render(request, "reports.html", context, block="results", status_code=status_code)


@requires("reports.request")
async def request_report(request: Request) -> Response:
    """Ask for a report: back to the list, where it is followed; a bad field is shown by its input (422)."""
    async with request.form(max_files=0, max_fields=20) as data:
        form = {name: str(data.get(name) or "") for name in FORM_FIELDS}
        try:
            params = params_of(data)
            body = ReportIn.model_validate({"type": form["type"], "format": form["format"], "params": params})
        except ValidationError as err:
            problem = Unprocessable("invalid report request", errors=_field_errors(err))
            return await _page(request, form=form, problem=problem, status_code=422)
        except Unprocessable as err:
            return await _page(request, form=form, problem=err, status_code=422)
    try:
        await ask_for(gateway_of(request), principal_of(request), body)
    except Unprocessable as err:
        return await _page(request, form=form, problem=err, status_code=422)
    return RedirectResponse(HOME, status_code=303)


@requires("reports.read")
async def report_row(request: Request) -> Response:
    """One report's row (what a pending row polls for); without HTMX, the list."""
    htmx = request.headers.get("hx-request") == "true"
    try:
        row = await service.get(gateway_of(request), report_id_of(request), visible_owner(principal_of(request)))
    except NotFound:
        if htmx:  # deleted meanwhile (or purged): an empty answer swaps the polling row out
            return Response(status_code=200)
        raise
    if not htmx:
        return RedirectResponse(HOME, status_code=303)
    context = {"r": await view(request, row)}
    return admin_console(request).render(request, "reports.html", context, block="report_row")


@requires("reports.request")
async def delete_report(request: Request) -> Response:
    """Delete one of your reports (an admin: anyone's) and its file; back to the list."""
    gateway = gateway_of(request)
    row = await service.get(gateway, report_id_of(request), visible_owner(principal_of(request)))
    await service.delete(gateway, row)
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200)  # the row swaps itself out
    return RedirectResponse(HOME, status_code=303)


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


async def _schedule_answer(request: Request) -> Response:
    """The schedule's row for HTMX (swapped in place); without it, back to the list."""
    if not _htmx(request):
        return RedirectResponse(HOME + "#schedules", status_code=303)
    context = {"s": await view_of(gateway_of(request), principal_of(request), request.path_params["name"])}
    return admin_console(request).render(request, "reports.html", context, block="schedule_row")


@requires("reports.read")
async def schedule_row(request: Request) -> Response:
    """One schedule's row (what it polls while a run has not ended); without HTMX, the list."""
    return await _schedule_answer(request)


@requires("reports.request")
async def run_schedule(request: Request) -> Response:
    """Run a schedule now (a disabled one too); its run shows in its row."""
    await run(gateway_of(request), request.path_params["name"], principal_of(request), _request_id(request))
    return await _schedule_answer(request)


@requires("reports.manage")
async def enable_schedule(request: Request) -> Response:
    """Let a disabled schedule run at its times again."""
    name = request.path_params["name"]
    await switch(gateway_of(request), name, True, principal_of(request), _request_id(request))
    return await _schedule_answer(request)


@requires("reports.manage")
async def disable_schedule(request: Request) -> Response:
    """Stop a schedule's ticks (a config file's too) until it is enabled again."""
    name = request.path_params["name"]
    await switch(gateway_of(request), name, False, principal_of(request), _request_id(request))
    return await _schedule_answer(request)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


@requires("reports.manage")
async def delete_schedule(request: Request) -> Response:
    """Remove a schedule added through the API (one of the config file is a 409)."""
    await remove_schedule(gateway_of(request), request.path_params["name"])
    return RedirectResponse(HOME + "#schedules", status_code=303)
