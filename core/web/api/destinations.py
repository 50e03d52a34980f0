"""``/api/destinations``: each destination's circuit breaker; pause and resume by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core.auth.permissions import requires
from core.errors import Conflict, NotFound
from core.pipeline.breaker import State, states
from core.pipeline.sweeper import release_backlog
from core.web.requests import gateway_of


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _describe(name: str, row: dict[str, Any] | None, request: Request) -> dict[str, Any]:
    policy = gateway_of(request).settings.delivery.breaker.policy(name)
    row = row or {}
    return {
        "name": name,
        "configured": name in gateway_of(request).destinations,
        "state": row.get("state", State.CLOSED.value),
        "failure_streak": row.get("failure_streak", 0),
        "last_success_at": _time(row.get("last_success_at")),
        "last_failure_at": _time(row.get("last_failure_at")),
        "last_error": row.get("last_error"),
        "paused_since": _time(row.get("paused_since")),
        "paused_by": row.get("paused_by"),
        "next_probe_at": _time(row.get("probe_at")) if row.get("state") == State.OPEN else None,
        "cooldown": row.get("cooldown"),
        "breaker": policy.model_dump(),
    }


@requires("viewer", scopes=["destinations:read"])
async def list_destinations(request: Request) -> Response:
    """Every destination with its breaker: state, failure streak, last success and error, paused since."""
    gateway = gateway_of(request)
    async with gateway.db.transaction() as conn:
        rows = await states(conn)
    names = sorted({*gateway.destinations, *rows})
    return JSONResponse({"items": [_describe(n, rows.get(n), request) for n in names]})


async def _one(request: Request) -> dict[str, Any]:
    gateway = gateway_of(request)
    name = request.path_params["name"]
    async with gateway.db.transaction() as conn:
        rows = await states(conn)
    if name not in gateway.destinations and name not in rows:
        raise NotFound("no such destination")
    return _describe(name, rows.get(name), request)


@requires("operator", scopes=["destinations:write"])
async def pause_destination(request: Request) -> Response:
    """Hold back every delivery to the destination until it is resumed (no probes meanwhile)."""
    await _one(request)
    principal = request.state.principal
    name = request.path_params["name"]
    if not await gateway_of(request).deliveries.breaker.pause(name, by=principal.label, actor_type=principal.kind):
        raise Conflict("the destination is already paused")
    return JSONResponse(await _one(request))


@requires("operator", scopes=["destinations:write"])
async def resume_destination(request: Request) -> Response:
    """Close the destination's breaker (paused by hand or by failures); its backlog is released."""
    await _one(request)
    gateway = gateway_of(request)
    principal = request.state.principal
    name = request.path_params["name"]
    if not await gateway.deliveries.breaker.resume(name, by=principal.label, actor_type=principal.kind):
        raise Conflict("the destination is not paused")
    await release_backlog(gateway, name)
    return JSONResponse(await _one(request))


def destination_routes() -> list[BaseRoute]:
    return [
        Route("/api/destinations", list_destinations),
        Route("/api/destinations/{name}/pause", pause_destination, methods=["POST"]),
        Route("/api/destinations/{name}/resume", resume_destination, methods=["POST"]),
    ]
