"""Operations endpoints: liveness, readiness, the OpenAPI document and its Swagger UI."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from core.auth.permissions import requires
from core.contracts import Check
from core.errors import CheckFailed
from core.web.headers import DOCS_POLICY, page_headers
from core.web.openapi import openapi_document

if TYPE_CHECKING:
    from core.gateway import Gateway

STATIC = Path(__file__).parent / "static"
READY_TIMEOUT = 3.0
UPGRADE_HINT = "run `switchboard db upgrade`"

_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchboard API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/static/init.js"></script>
</body></html>"""


@requires(public=True)
async def healthz(request: Request) -> Response:
    """Liveness: the process is up and serving."""
    return JSONResponse({"status": "ok"})


async def _check(name: str, probe: object) -> tuple[str, dict[str, object]]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe, READY_TIMEOUT)  # type: ignore[arg-type]
    except Exception as err:  # noqa: BLE001 - any failure means "not ready"
        return name, {"status": "down", "error": type(err).__name__}
    return name, {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


async def _schema(gateway: Gateway) -> tuple[str, dict[str, object]]:
    try:
        missing = await asyncio.wait_for(gateway.schema.missing(), READY_TIMEOUT)
    except Exception as err:  # noqa: BLE001 - the database check names the cause
        return "schema", {"status": "unknown", "error": type(err).__name__}
    if missing:
        return "schema", {"status": "down", "missing": missing, "error": f"not migrated; {UPGRADE_HINT}"}
    return "schema", {"status": "ok"}


async def run_check(check: Check, *, thorough: bool, timeout: float | None) -> dict[str, object]:
    """A plugin's check (``switchboard_checks``) as a component of ``/readyz``: its message if it says why."""
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check.probe(thorough), timeout)
    except CheckFailed as err:
        return {"status": "down", "error": str(err)}
    except Exception as err:  # noqa: BLE001 - any failure means "not ready"
        return {"status": "down", "error": type(err).__name__}
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def plugin_checks(gateway: Gateway) -> list[Check]:
    return list(gateway.plugins.gather("switchboard_checks", gateway=gateway))


@requires(public=True)
async def readyz(request: Request) -> Response:
    """Readiness: the database answers and is migrated, the queue answers, each plugin's checks pass. 503 when not."""
    gateway = request.app.state.gateway
    checks = plugin_checks(gateway)
    results = dict(
        await asyncio.gather(
            _check("database", gateway.db.ping()),
            _schema(gateway),
            _check(f"queue:{gateway.queue.name}", gateway.queue.ping()),
        )
    )
    found = await asyncio.gather(*(run_check(c, thorough=False, timeout=READY_TIMEOUT) for c in checks))
    results.update(zip((c.name for c in checks), found, strict=True))
    ok = all(c["status"] == "ok" for c in results.values())
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "components": results}, status_code=200 if ok else 503
    )


@requires(public=True)
async def openapi_json(request: Request) -> Response:
    """The OpenAPI 3.1 document of every core and plugin route."""
    app = request.app
    if not hasattr(app.state, "openapi"):
        app.state.openapi = openapi_document(app.routes, title="Switchboard", version=app.state.version)
    return JSONResponse(app.state.openapi)


@requires(public=True)
async def docs(request: Request) -> Response:
    """Swagger UI for ``/openapi.json`` (served from vendored files: no CDN)."""
    return HTMLResponse(_DOCS_PAGE, headers=page_headers(DOCS_POLICY))


@requires(public=True)
async def docs_init(request: Request) -> Response:
    script = (
        'window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", '
        "persistAuthorization: false, tryItOutEnabled: false});"
    )
    return Response(script, media_type="text/javascript")


def health_routes() -> list[BaseRoute]:
    static = StaticFiles(directory=STATIC / "swagger-ui")
    requires(public=True)(static)
    return [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/openapi.json", openapi_json),
        Route("/docs", docs),
        Route("/docs/static/init.js", docs_init),
        Mount("/docs/static", app=static),
    ]
