"""Installed plugins and what each contributes, with each destination's health."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from admin_ui.console import console_of
from core.auth.permissions import requires
from core.operations.summary import destination_health


@requires("viewer")
async def list_plugins(request: Request) -> Response:
    gateway = console_of(request).gateway
    infos = list(gateway.plugins.infos.values())
    names = sorted({d for info in infos for d in info.destinations} | set(gateway.destinations))
    health = await destination_health(gateway.db, names)
    return console_of(request).render(request, "plugins.html", {"plugins": infos, "health": health})
