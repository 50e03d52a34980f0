"""The console's "Devices and alerts" page (``switchboard_admin_pages``): devices, their keys, and alerts.

Mounted by the admin UI at ``/admin/devices``. Everyone lists devices (filtered on type,
facility and status, keyset paged), reads a device's state and recent readings, and lists
alerts; operators register a device, deactivate and reactivate one, rotate its key and
acknowledge alerts. A new key is shown once, by the device's page that the POST redirects to
(``AdminConsole.redirect``): a reload neither repeats the change nor shows the key again. The work is the API's
services (``registry``, ``history``, ``alerts``); only the HTML is this module's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import sqlalchemy as sa
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from core import (
    AdminPage,
    Conflict,
    HTTPError,
    Unprocessable,
    admin_console,
    bounded_int,
    count_at_most,
    gateway_of,
    keyset_page,
    path_uuid,
    principal_of,
    requires,
)
from plugins.devices import alerts, history, registry
from plugins.devices.models import alerts as alert_table
from plugins.devices.models import devices as device_table
from plugins.devices.models import readings as reading_table
from plugins.devices.requests import validate
from plugins.devices.settings import DEVICE_TYPES, DevicesSettings

TEMPLATES = Path(__file__).parent / "admin_templates"
PATH = "/devices"
HOME = f"/admin{PATH}/"
STATUSES = ("active", "silent", "inactive")
RECENT_READINGS = 20
REGISTER_FIELDS = ("serial", "type", "model", "facility", "subject")
M = TypeVar("M", bound=BaseModel)
KEY_LABEL = "Its API key, shown this once (copy it into the device now)"
NEW_KEY_LABEL = "Its new API key, shown this once (copy it into the device now)"


def admin_page() -> AdminPage:
    return AdminPage(
        path=PATH,
        title="Devices and alerts",
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/register", register, methods=["POST"]),
            Route("/alerts", alert_list, methods=["GET"]),
            Route("/alerts/acknowledge", acknowledge_ticked, methods=["POST"]),
            Route("/alerts/{alert_id}/acknowledge", acknowledge, methods=["POST"]),
            Route("/{device_id}", device_page, methods=["GET"]),
            Route("/{device_id}/deactivate", deactivate, methods=["POST"]),
            Route("/{device_id}/rotate-key", rotate_key, methods=["POST"]),
            Route("/{device_id}/reactivate", reactivate, methods=["POST"]),
        ],
        templates=str(TEMPLATES),
        permission="devices.read",
    )


def _user_id(request: Request) -> str | None:
    principal = principal_of(request)
    return principal.id if principal.kind == "user" else None


def _filters(request: Request, model: type[M], limit: int) -> M:
    """The query string's non-empty fields of ``model`` (a 422 naming a bad one); ``limit`` rows a page."""
    data: dict[str, Any] = {k: v.strip() for k, v in request.query_params.items() if k in model.model_fields}
    data = {k: v for k, v in data.items() if v and k != "limit"}
    return validate(model, data | {"limit": limit}, "invalid filters")


def _query(f: BaseModel) -> dict[str, str]:
    """A filter's fields as a query string's (for the next page's link), without limit and cursor."""
    return {k: str(v) for k, v in f.model_dump(exclude={"limit", "cursor"}, exclude_none=True).items()}


class _Key(BaseModel):
    before: uuid.UUID | None = None


async def _paged(request: Request, f: Any, query: sa.Select[Any], key: sa.ColumnElement[Any]) -> dict[str, Any]:
    """A newest-first keyset page of ``query`` at the request's ``cursor`` or ``before``, with its
    total (or "more than N") and the Newest, Newer and Older links keeping the filters."""
    before = validate(_Key, {"before": request.query_params.get("before") or None}, "invalid filters").before
    async with gateway_of(request).db.transaction() as conn:
        page = await keyset_page(conn, query, key, limit=f.limit, cursor=f.cursor, before=before)
        total = await count_at_most(conn, query.with_only_columns(key))
    filters = _query(f)
    links = {
        "newest": urlencode(filters) if page.previous is not None else None,
        "newer": urlencode(filters | {"before": str(page.previous)}) if page.previous is not None else None,
        "older": urlencode(filters | {"cursor": str(page.next)}) if page.next is not None else None,
    }
    return {"rows": page.rows, "total": total, "links": links}


@requires("devices.read")
async def index(request: Request) -> Response:
    """The devices (the ``results`` block for an HTMX filter or page), with the register form for operators."""
    return await _list_page(request)


async def _list_page(
    request: Request, *, form: dict[str, str] | None = None, problem: Unprocessable | None = None, status: int = 422
) -> Response:
    console = admin_console(request)
    f = _filters(request, registry.DeviceFilter, console.page_size)
    page = await _paged(request, f, registry.device_query(f), device_table.c.id)
    errors = {str(e.get("field")): str(e.get("message")) for e in (problem.errors or [])} if problem else {}
    context = {
        "devices": [registry.device_view(r) for r in page["rows"]],
        "page": page,
        "filters": _query(f),
        "types": DEVICE_TYPES,
        "statuses": STATUSES,
        "form": form or {},
        "problem": problem,
        "errors": errors,
        "other_errors": [(k, m) for k, m in errors.items() if k not in REGISTER_FIELDS],
    }
    return console.render(request, "devices.html", context, block="results", status_code=status if problem else 200)


@requires("devices.manage")
async def register(request: Request) -> Response:
    """Register a device: its page, with its API key shown this once; a bad field is shown by its input."""
    async with request.form(max_files=0, max_fields=20) as data:
        form = {name: str(data.get(name) or "").strip() for name in REGISTER_FIELDS}
    try:
        new = validate(registry.DeviceIn, {k: v for k, v in form.items() if v}, "invalid device")
        row, key = await registry.register(gateway_of(request), new, _user_id(request))
    except Unprocessable as err:
        return await _list_page(request, form=form, problem=err)
    except Conflict as err:  # the one conflict of a registration: the serial number is taken
        taken = Unprocessable(str(err), errors=[{"field": "serial", "message": "registered already"}])
        return await _list_page(request, form=form, problem=taken, status=409)
    notice = f"Device {row.serial} registered."
    return admin_console(request).redirect(request, f"{HOME}{row.id}", notice=notice, secret=(KEY_LABEL, key))


@requires("devices.read")
async def device_page(request: Request) -> Response:
    """A device: its state, what it last reported, and its recent readings."""
    row = await registry.get_device(gateway_of(request), path_uuid(request, "device_id", "device"))
    return await _device_page(request, row)


async def _device_page(request: Request, row: Any) -> Response:
    gateway = gateway_of(request)
    params = request.query_params
    cursor, before = bounded_int(params.get("cursor"), low=0), bounded_int(params.get("before"), low=0)
    query = history.reading_query(history.ReadingFilter(device=row.id), gateway_of(request).privacy)
    async with gateway.db.transaction() as conn:
        found = await keyset_page(conn, query, reading_table.c.id, limit=RECENT_READINGS, cursor=cursor, before=before)
        total = await count_at_most(conn, query.with_only_columns(reading_table.c.id))
    links = {
        "newest": "" if found.previous is not None else None,
        "newer": f"before={found.previous}" if found.previous is not None else None,
        "older": f"cursor={found.next}" if found.next is not None else None,
    }
    readings = found.rows
    open_alerts, _ = await alerts.list_alerts(gateway, alerts.AlertFilter(device=row.id, state="open", limit=10))
    context = {
        "d": registry.device_view(row),
        "readings": [history.reading_view(r) for r in readings],
        "readings_page": {"total": total, "links": links},
        "alerts": [alerts.alert_view(a) for a in open_alerts],
    }
    return admin_console(request).render(request, "devices_device.html", context, block="device")


@requires("devices.manage")
async def deactivate(request: Request) -> Response:
    """Deactivate the device (every key it has stops at once); back to its page."""
    device_id = path_uuid(request, "device_id", "device")
    await registry.deactivate(gateway_of(request), device_id)
    return RedirectResponse(f"{HOME}{device_id}", status_code=303)


@requires("devices.manage")
async def rotate_key(request: Request) -> Response:
    """A new key for the device, shown this once; the old one works for ``rotation_grace`` seconds."""
    gateway = gateway_of(request)
    settings: DevicesSettings = gateway.plugin_config("devices")
    row, key, stops = await registry.rotate(
        gateway, path_uuid(request, "device_id", "device"), settings.rotation_grace, _user_id(request)
    )
    until = f"keeps working until {stops:%Y-%m-%d %H:%M:%S} UTC" if stops else "stopped at once"
    notice = f"Key of {row.serial} rotated: the old key {until}."
    return admin_console(request).redirect(request, f"{HOME}{row.id}", notice=notice, secret=(NEW_KEY_LABEL, key))


@requires("devices.manage")
async def reactivate(request: Request) -> Response:
    """Bring a deactivated device back with a new key, shown once; its old keys stay revoked (409 if active)."""
    row, key = await registry.reactivate(
        gateway_of(request), path_uuid(request, "device_id", "device"), _user_id(request)
    )
    notice = f"Device {row.serial} reactivated: its old keys stay revoked."
    return admin_console(request).redirect(request, f"{HOME}{row.id}", notice=notice, secret=(NEW_KEY_LABEL, key))


@requires("devices.read")
async def alert_list(request: Request) -> Response:
    """Alerts, newest first, filtered on state (open, acknowledged), subject and device; keyset paged."""
    console = admin_console(request)
    f = _filters(request, alerts.AlertFilter, console.page_size)
    page = await _paged(request, f, alerts.alert_query(f, gateway_of(request).privacy), alert_table.c.id)
    context = {
        "alerts": [alerts.alert_view(r) for r in page["rows"]],
        "page": page,
        "filters": _query(f),
        "query": urlencode(_query(f)),
    }
    return console.render(request, "devices_alerts.html", context, block="results")


@requires("devices.manage")
async def acknowledge(request: Request) -> Response:
    """Acknowledge an alert: its row again for HTMX, else back to the alerts."""
    alert_id: uuid.UUID = path_uuid(request, "alert_id", "alert")
    row = await alerts.acknowledge(gateway_of(request), alert_id, principal_of(request).label, datetime.now(UTC))
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(f"{HOME}alerts", status_code=303)
    context = {"a": alerts.alert_view(row)}
    return admin_console(request).render(request, "devices_alerts.html", context, block="alert_row")


@requires("devices.manage")
async def acknowledge_ticked(request: Request) -> Response:
    """Acknowledge the ticked alerts (a 422 when none is ticked); back to the alerts, saying how many."""
    async with request.form(max_files=0, max_fields=1000) as form:
        ticked = [str(v) for v in form.getlist("id")]
        back = str(form.get("back") or "")
    if not ticked:
        raise HTTPError("tick the alerts first", status_code=422, errors=[{"field": "id", "message": "none ticked"}])
    ids = [validate(_Key, {"before": value}, "invalid alert id").before for value in ticked]
    gateway, by, now = gateway_of(request), principal_of(request).label, datetime.now(UTC)
    for alert_id in ids:
        assert alert_id is not None
        await alerts.acknowledge(gateway, alert_id, by, now)
    target = f"{HOME}alerts" + (f"?{back}" if back and not back.startswith(("/", "?")) and "//" not in back else "")
    notice = f"{len(ids)} alert{'s' if len(ids) != 1 else ''} acknowledged."
    return admin_console(request).redirect(request, target, notice=notice)
