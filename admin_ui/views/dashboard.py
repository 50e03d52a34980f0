"""The dashboard: the figures of ``core.operations.summary`` (kept a few seconds, ``admin_ui.figures``), refreshing itself through HTMX."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from admin_ui.charts import volume_chart
from admin_ui.console import console_of
from core.auth.permissions import requires
from core.operations.summary import WINDOWS, summary


@requires("traffic.read")
async def dashboard(request: Request) -> Response:
    console = console_of(request)
    window = request.query_params.get("window", "24h")
    if window not in WINDOWS:
        window = "24h"
    figures = await console.figures.get(window, lambda: summary(console.gateway.db, window))
    context = {
        "s": figures,
        "window": window,
        "windows": list(WINDOWS),
        "chart": volume_chart(figures["volume"]),
        "refresh": console.settings.refresh_seconds,
    }
    return console.render(request, "dashboard.html", context, block="figures")
