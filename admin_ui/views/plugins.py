"""Installed plugins and what each contributes, with each destination's breaker (``core.operations.destinations``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from admin_ui.console import console_of
from core.auth.permissions import requires
from core.operations.destinations import list_destinations


@requires("traffic.read")
async def list_plugins(request: Request) -> Response:
    gateway = console_of(request).gateway
    infos = list(gateway.plugins.infos.values())
    # Each destination's breaker, as the Destinations page and /api/destinations show it: one definition.
    health = await list_destinations(gateway)
    return console_of(request).render(request, "plugins.html", {"plugins": infos, "health": health})
