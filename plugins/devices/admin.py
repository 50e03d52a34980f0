"""The console's "Devices and alerts" page (``switchboard_admin_pages``): devices, their keys, and alerts.

Mounted by the admin UI at ``/admin/devices``. Everyone lists devices (filtered on type,
facility and status, keyset paged), reads a device's state and recent readings, and lists
alerts; operators register a device (its API key is shown on the answer, once), deactivate
one, rotate its key (the new key shown once) and acknowledge alerts. The work is the API's
services (``registry``, ``history``, ``alerts``); only the HTML is this module's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from core import AdminPage, Conflict, Unprocessable, admin_console, gateway_of, path_uuid, principal_of, requires
from plugins.devices import alerts, history, registry
from plugins.devices.requests import validate
from plugins.devices.settings import DEVICE_TYPES, DevicesSettings

TEMPLATES = Path(__file__).parent / "admin_templates"
PATH = "/devices"
HOME = f"/admin{PATH}/"
STATUSES = ("active", "silent", "inactive")
RECENT_READINGS = 20
REGISTER_FIELDS = ("serial", "type", "model", "facility", "subject")
M = TypeVar("M", bound=BaseModel)


def admin_page() -> AdminPage:
    return AdminPage(
        path=PATH,
        title="Devices and alerts",
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/register", register, methods=["POST"]),
            Route("/alerts", alert_list, methods=["GET"]),
            Route("/alerts/{alert_id}/acknowledge", acknowledge, methods=["POST"]),
            Route("/{device_id}", device_page, methods=["GET"]),
            Route("/{device_id}/deactivate", deactivate, methods=["POST"]),
            Route("/{device_id}/rotate-key", rotate_key, methods=["POST"]),
        ],
        templates=str(TEMPLATES),
        role="viewer",
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


@requires("viewer")
async def index(request: Request) -> Response:
    """The devices (the ``results`` block for an HTMX filter or page), with the register form for operators."""
    return await _list_page(request)


async def _list_page(
    request: Request, *, form: dict[str, str] | None = None, problem: Unprocessable | None = None, status: int = 422
) -> Response:
    console = admin_console(request)
    f = _filters(request, registry.DeviceFilter, console.page_size)
    rows, cursor = await registry.list_devices(gateway_of(request), f)
    errors = {str(e.get("field")): str(e.get("message")) for e in (problem.errors or [])} if problem else {}
    context = {
        "devices": [registry.device_view(r) for r in rows],
        "filters": _query(f),
        "query": urlencode(_query(f)),
        "next_href": urlencode(_query(f) | {"cursor": cursor}) if cursor else None,
        "paged": f.cursor is not None,
        "types": DEVICE_TYPES,
        "statuses": STATUSES,
        "form": form or {},
        "problem": problem,
        "errors": errors,
        "other_errors": [(k, m) for k, m in errors.items() if k not in REGISTER_FIELDS],
    }
    return console.render(request, "devices.html", context, block="results", status_code=status if problem else 200)


@requires("operator")
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
    return await _device_page(request, row, new_key=key, registered=True)


@requires("viewer")
async def device_page(request: Request) -> Response:
    """A device: its state, what it last reported, and its recent readings."""
    row = await registry.get_device(gateway_of(request), path_uuid(request, "device_id", "device"))
    return await _device_page(request, row)


async def _device_page(
    request: Request, row: Any, *, new_key: str | None = None, registered: bool = False, old_key_until: Any = None
) -> Response:
    gateway = gateway_of(request)
    readings, _ = await history.list_readings(gateway, history.ReadingFilter(device=row.id, limit=RECENT_READINGS))
    open_alerts, _ = await alerts.list_alerts(gateway, alerts.AlertFilter(device=row.id, state="open", limit=10))
    context = {
        "d": registry.device_view(row),
        "readings": [history.reading_view(r) for r in readings],
        "alerts": [alerts.alert_view(a) for a in open_alerts],
        "new_key": new_key,
        "registered": registered,
        "old_key_until": old_key_until.isoformat() if old_key_until else None,
    }
    return admin_console(request).render(request, "devices_device.html", context, block="device")


@requires("operator")
async def deactivate(request: Request) -> Response:
    """Deactivate the device (every key it has stops at once); back to its page."""
    device_id = path_uuid(request, "device_id", "device")
    await registry.deactivate(gateway_of(request), device_id)
    return RedirectResponse(f"{HOME}{device_id}", status_code=303)


@requires("operator")
async def rotate_key(request: Request) -> Response:
    """A new key for the device, shown this once; the old one works for ``rotation_grace`` seconds."""
    gateway = gateway_of(request)
    settings: DevicesSettings = gateway.plugin_config("devices")
    row, key, stops = await registry.rotate(
        gateway, path_uuid(request, "device_id", "device"), settings.rotation_grace, _user_id(request)
    )
    return await _device_page(request, row, new_key=key, old_key_until=stops)


@requires("viewer")
async def alert_list(request: Request) -> Response:
    """Alerts, newest first, filtered on state (open, acknowledged), subject and device; keyset paged."""
    console = admin_console(request)
    f = _filters(request, alerts.AlertFilter, console.page_size)
    rows, cursor = await alerts.list_alerts(gateway_of(request), f)
    context = {
        "alerts": [alerts.alert_view(r) for r in rows],
        "filters": _query(f),
        "query": urlencode(_query(f)),
        "next_href": urlencode(_query(f) | {"cursor": cursor}) if cursor else None,
        "paged": f.cursor is not None,
    }
    return console.render(request, "devices_alerts.html", context, block="results")


@requires("operator")
async def acknowledge(request: Request) -> Response:
    """Acknowledge an alert: its row again for HTMX, else back to the alerts."""
    alert_id: uuid.UUID = path_uuid(request, "alert_id", "alert")
    row = await alerts.acknowledge(gateway_of(request), alert_id, principal_of(request).label, datetime.now(UTC))
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(f"{HOME}alerts", status_code=303)
    context = {"a": alerts.alert_view(row)}
    return admin_console(request).render(request, "devices_alerts.html", context, block="alert_row")
