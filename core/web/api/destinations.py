"""``/api/destinations``: each destination's circuit breaker; pause and resume by hand."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core.auth.permissions import requires
from core.operations import destinations
from core.web.requests import gateway_of


@requires("traffic.read", scopes=["destinations:read"])
async def list_destinations(request: Request) -> Response:
    """Every destination with its breaker: state, failure streak, last success and error, paused since."""
    return JSONResponse({"items": await destinations.list_destinations(gateway_of(request))})


@requires("destinations.manage", scopes=["destinations:write"])
async def pause_destination(request: Request) -> Response:
    """Hold back every delivery to the destination until it is resumed (no probes meanwhile)."""
    name = request.path_params["name"]
    return JSONResponse(await destinations.pause(gateway_of(request), name, request.state.principal))


@requires("destinations.manage", scopes=["destinations:write"])
async def resume_destination(request: Request) -> Response:
    """Close the destination's breaker (paused by hand or by failures); its backlog is released."""
    name = request.path_params["name"]
    return JSONResponse(await destinations.resume(gateway_of(request), name, request.state.principal))


def destination_routes() -> list[BaseRoute]:
    return [
        Route("/api/destinations", list_destinations),
        Route("/api/destinations/{name}/pause", pause_destination, methods=["POST"]),
        Route("/api/destinations/{name}/resume", resume_destination, methods=["POST"]),
    ]
