"""``/plugins/devices/…``: devices, heartbeats, readings, summaries, alerts and rules for people and devices.

A device beats at ``POST /webhooks/devices/heartbeat`` (beside its uploads to
``/webhooks/devices``; mounted at the root with ``core.at_root``), and at the older
``/plugins/devices/heartbeat``, kept as an alias. Viewers read; operators register, change, deactivate and reactivate devices, rotate keys and acknowledge
alerts; admins delete devices and manage alert rules. API keys may use the scopes
``devices:read`` and ``devices:write``; a device's own key (``devices:upload``) only beats.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core import AuthenticationError, Gateway, HTTPError, at_root, path_uuid, requires
from plugins.devices import alerts, history, registry, rules
from plugins.devices.adapter import device_of_request
from plugins.devices.core_keys import PLATFORM, SCOPE
from plugins.devices.requests import json_body, query
from plugins.devices.settings import DevicesSettings, RuleSettings

READ, WRITE = ["devices:read"], ["devices:write"]


def _gateway(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


def _settings(request: Request) -> DevicesSettings:
    return _gateway(request).plugin_config("devices")  # type: ignore[no-any-return]


def _who(request: Request) -> tuple[str | None, str]:
    """The caller: a user's id (for ``created_by``) and a name for the record."""
    principal = request.state.principal
    return (principal.id if principal.kind == "user" else None), principal.label


def _page(items: list[dict[str, Any]], cursor: str | None) -> JSONResponse:
    return JSONResponse({"items": items, "next_cursor": cursor})


@requires("devices.read", scopes=READ)
async def list_devices(request: Request) -> Response:
    """Devices, filtered on type, facility and status, keyset paged (``cursor``)."""
    rows, cursor = await registry.list_devices(_gateway(request), query(request, registry.DeviceFilter))
    return _page([registry.device_view(r) for r in rows], cursor)


@requires("devices.manage", scopes=WRITE)
async def register_device(request: Request) -> Response:
    """Register a device; the answer holds its API key, shown this once."""
    new = await json_body(request, registry.DeviceIn)
    row, key = await registry.register(_gateway(request), new, _who(request)[0])
    return JSONResponse(registry.device_view(row) | {"api_key": key}, status_code=201)


@requires("devices.read", scopes=READ)
async def get_device(request: Request) -> Response:
    row = await registry.get_device(_gateway(request), path_uuid(request, "device_id", "device"))
    return JSONResponse(registry.device_view(row))


@requires("devices.manage", scopes=WRITE)
async def update_device(request: Request) -> Response:
    changes = await json_body(request, registry.DeviceChanges)
    row = await registry.update_device(_gateway(request), path_uuid(request, "device_id", "device"), changes)
    return JSONResponse(registry.device_view(row))


@requires("devices.delete", scopes=WRITE)
async def delete_device(request: Request) -> Response:
    """Remove a device and revoke its keys (its readings and alerts stay)."""
    await registry.delete(_gateway(request), path_uuid(request, "device_id", "device"))
    return Response(status_code=204)


@requires("devices.manage", scopes=WRITE)
async def deactivate_device(request: Request) -> Response:
    """Deactivate a device: every key it has stops working at once."""
    row = await registry.deactivate(_gateway(request), path_uuid(request, "device_id", "device"))
    return JSONResponse(registry.device_view(row))


@requires("devices.manage", scopes=WRITE)
async def reactivate_device(request: Request) -> Response:
    """Bring a deactivated device back: status ``active`` and a new key, shown this once."""
    row, key = await registry.reactivate(_gateway(request), path_uuid(request, "device_id", "device"), _who(request)[0])
    return JSONResponse(registry.device_view(row) | {"api_key": key})


@requires("devices.manage", scopes=WRITE)
async def rotate_key(request: Request) -> Response:
    """A new key for the device; the old one keeps working for ``grace_seconds`` (default ``rotation_grace``)."""
    asked = (await json_body(request, registry.KeyRotation)).grace_seconds
    grace = _settings(request).rotation_grace if asked is None else asked
    row, key, stops = await registry.rotate(
        _gateway(request), path_uuid(request, "device_id", "device"), grace, _who(request)[0]
    )
    return JSONResponse(
        registry.device_view(row) | {"api_key": key, "old_key_valid_until": stops.isoformat() if stops else None}
    )


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    firmware: str | None = Field(default=None, max_length=64)
    battery: float | None = Field(default=None, ge=0, le=100)  # percent
    signal: float | None = Field(default=None, ge=-200, le=100)  # dBm, or a percentage


@requires("devices.manage", scopes=[SCOPE])
async def heartbeat(request: Request) -> Response:
    """A device says it is alive, with its firmware, battery and signal if it knows them."""
    gateway = _gateway(request)
    try:
        device = await device_of_request(gateway, request)
    except AuthenticationError as err:
        raise HTTPError(str(err), status_code=err.status_code) from err
    beat = await json_body(request, Heartbeat)
    now = datetime.now(UTC)
    async with gateway.db.transaction() as conn:
        await registry.heard_from(conn, device.id, now, **beat.model_dump(exclude_none=True))
    return JSONResponse({"device_id": str(device.id), "last_seen_at": now.isoformat()})


@requires("devices.read", scopes=READ)
async def list_readings(request: Request) -> Response:
    """Readings filtered on device, subject, metric and period (``since``, ``until``), keyset paged."""
    rows, cursor = await history.list_readings(_gateway(request), query(request, history.ReadingFilter))
    return _page([history.reading_view(r) for r in rows], cursor)


@requires("devices.read", scopes=READ)
async def subject_summary(request: Request) -> Response:
    """Count, min, max, mean and last value per metric of one subject over a day, week or month."""
    period = query(request, history.SummaryQuery).period
    return JSONResponse(await history.subject_summary(_gateway(request), request.path_params["subject"], period))


@requires("devices.read", scopes=READ)
async def list_alerts(request: Request) -> Response:
    """Alerts, newest first, filtered on state (open, acknowledged), device and subject."""
    rows, cursor = await alerts.list_alerts(_gateway(request), query(request, alerts.AlertFilter))
    return _page([alerts.alert_view(r) for r in rows], cursor)


@requires("devices.manage", scopes=WRITE)
async def acknowledge_alert(request: Request) -> Response:
    row = await alerts.acknowledge(
        _gateway(request), path_uuid(request, "alert_id", "alert"), _who(request)[1], datetime.now(UTC)
    )
    return JSONResponse(alerts.alert_view(row))


@requires("devices.read", scopes=READ)
async def list_rules(request: Request) -> Response:
    """Every alert rule: those of config and those stored by admins."""
    return JSONResponse({"items": await rules.list_rules(_gateway(request), _settings(request).rules)})


@requires("devices.rules", scopes=WRITE)
async def create_rule(request: Request) -> Response:
    rule = await json_body(request, RuleSettings)
    view = await rules.create_rule(_gateway(request), rule, _settings(request).rules)
    return JSONResponse(view, status_code=201)


@requires("devices.rules", scopes=WRITE)
async def put_rule(request: Request) -> Response:
    """Store a rule under its name (replacing a rule of config of that name)."""
    rule = await json_body(request, RuleSettings)
    view = await rules.put_rule(_gateway(request), request.path_params["name"], rule, _settings(request).rules)
    return JSONResponse(view)


@requires("devices.rules", scopes=WRITE)
async def delete_rule(request: Request) -> Response:
    await rules.delete_rule(_gateway(request), request.path_params["name"], _settings(request).rules)
    return Response(status_code=204)


def devices_routes() -> list[BaseRoute]:
    return [
        Route("/devices", list_devices, methods=["GET"]),
        Route("/devices", register_device, methods=["POST"]),
        Route("/devices/{device_id}", get_device, methods=["GET"]),
        Route("/devices/{device_id}", update_device, methods=["PATCH"]),
        Route("/devices/{device_id}", delete_device, methods=["DELETE"]),
        Route("/devices/{device_id}/deactivate", deactivate_device, methods=["POST"]),
        Route("/devices/{device_id}/reactivate", reactivate_device, methods=["POST"]),
        Route("/devices/{device_id}/rotate-key", rotate_key, methods=["POST"]),
        Route("/heartbeat", heartbeat, methods=["POST"]),
        Route("/readings", list_readings, methods=["GET"]),
        Route("/subjects/{subject}/summary", subject_summary, methods=["GET"]),
        Route("/alerts", list_alerts, methods=["GET"]),
        Route("/alerts/{alert_id}/acknowledge", acknowledge_alert, methods=["POST"]),
        Route("/rules", list_rules, methods=["GET"]),
        Route("/rules", create_rule, methods=["POST"]),
        Route("/rules/{name}", put_rule, methods=["PUT"]),
        Route("/rules/{name}", delete_rule, methods=["DELETE"]),
        # Where the issue puts it, beside the uploads. The core's /webhooks/{platform} takes no
        # sub-path, so the two never overlap (the app would refuse to start if they did).
        at_root([Route(f"/webhooks/{PLATFORM}/heartbeat", heartbeat, methods=["POST"])]),
    ]
