"""The app factory: ``create_app(settings)`` builds one independent gateway app."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.types import Scope

from core import distribution
from core.config.settings import Settings, load_settings
from core.gateway import Gateway, freeze_startup_heap
from core.metrics import metrics
from core.scopes import client_address
from core.web.middleware import Authentication, BodyLimit, RequestContext, SchemaGate
from core.web.responses import EXCEPTION_HANDLERS
from core.web.root_routes import RootRoutes, check_no_shadowing
from core.web.security import guard_routes, max_body_of, walk_routes
from core.web.webhooks import webhook, webhook_platform_of


def create_app(settings: Settings, *, plugins: Iterable[tuple[str, object]] = ()) -> Starlette:
    """Build an app: its own plugin manager, engine, HTTP client and queue.

    ``plugins`` registers extra in-process plugins as ``(name, module_or_object)`` pairs,
    beside those found through the ``switchboard`` entry points (tests use it).
    """
    gateway = Gateway(settings, list(plugins))

    routes: list[BaseRoute] = []
    at_root: list[tuple[str, list[BaseRoute]]] = []
    for name, own in gateway.plugins.each("switchboard_routes", gateway=gateway).items():
        if name in gateway.plugins.internal:
            routes.extend(own)  # the core's own routes, at the root (webhooks first)
            continue
        rooted = [route for wrapper in own if isinstance(wrapper, RootRoutes) for route in wrapper.routes]
        own = [route for route in own if not isinstance(route, RootRoutes)]
        if own:
            routes.append(Mount(f"/plugins/{name}", routes=own))
        gateway.plugins.infos[name].routes = list(dict.fromkeys(f"/plugins/{name}{getattr(r, 'path', '')}" for r in own))
        if rooted:
            at_root.append((name, rooted))
            gateway.plugins.infos[name].routes += [getattr(r, "path", "") for r in rooted]
    for name, rooted in at_root:
        # A plugin's root routes go before the core's (a core Mount such as /docs/static must
        # not catch them), which is safe because none may overlap a route already there; but
        # after the webhook route, which stays first: Starlette tries each route's pattern in
        # turn, and the dhis2 compatibility layer alone put 45 patterns in front of every webhook.
        check_no_shadowing(name, rooted, routes)
        first = 1 if routes and getattr(routes[0], "endpoint", None) is webhook else 0
        routes[first:first] = rooted

    gateway.route_scopes = frozenset(s for _, _, permission, _ in walk_routes(routes) for s in permission.scopes)
    gateway.webhook_paths = frozenset(
        path for path, _, _, endpoint in walk_routes(routes) if webhook_platform_of(endpoint) is not None
    )
    recorder = metrics()
    access = logging.getLogger("switchboard.access") if settings.server.access_log else None

    async def observe(scope: Scope, status: int, duration_ms: float, error: str | None) -> None:
        recorder.request(route_template(scope), scope.get("method", ""), status, duration_ms / 1000)
        state = scope.get("state", {})
        path = scope["path"]
        if access is not None:
            # One line, one write to this process's stderr: safe with several workers. The path
            # only (a query string may carry a token); the request id is in the line itself.
            # The same values are fields of their own with log_format = "json".
            fields = {
                "method": scope.get("method", ""),
                "path": path,
                "status": status,
                "duration_ms": round(duration_ms, 1),
                "client": client_address(scope) or "-",
                "request_id": state.get("request_id", "-"),
            }
            access.info("%s %s %d %.1f ms %s request_id=%s", *fields.values(), extra=fields)
        if state.get("audited") or path in ("/healthz", "/readyz", "/metrics") or path.startswith("/docs"):
            return
        principal = state.get("principal")
        gateway.audit.record(
            "request",
            request_id=state.get("request_id"),
            actor=principal.label if principal else state.get("audit_actor"),
            actor_type=principal.kind if principal else "anonymous",
            method=scope.get("method"),
            path=scope["path"],
            status=status,
            duration_ms=duration_ms,
            client=client_address(scope),
            error=error,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        freeze_startup_heap()
        try:
            yield
        finally:
            await gateway.close()

    app = Starlette(
        routes=guard_routes(routes, gateway.roles),
        middleware=[
            Middleware(RequestContext, observe=observe),
            Middleware(SchemaGate, migrated=gateway.migrated),
            Middleware(BodyLimit, max_bytes=settings.server.max_body_bytes, ceiling=_largest_body_limit(routes)),
            Middleware(
                Authentication,
                authenticate=gateway.auth.authenticate,
                admit=gateway.auth.admit,
                is_webhook=lambda path: path.startswith("/webhooks/") or path in gateway.webhook_paths,
            ),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    app.state.version = distribution.version()
    return app


def route_template(scope: Scope) -> str:
    """The matched route's pattern (``/api/deliveries/{id}``), never the raw path: a bounded label set."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return "<unmatched>"
    # Inside a Mount, root_path grew by the mount's matched prefix; app_root_path is where it began.
    prefix = scope.get("root_path", "")[len(scope["app_root_path"]) :] if "app_root_path" in scope else ""
    return f"{prefix}{path}"


def _largest_body_limit(routes: list[BaseRoute]) -> int:
    """The largest body any route accepts (``core.max_body``): the limit enforced before routing."""
    return max((max_body_of(endpoint) or 0 for _, _, _, endpoint in walk_routes(routes)), default=0)


def app_from_environment() -> Any:
    """ASGI factory for ``uvicorn --factory core.web.app:app_from_environment`` (several workers)."""
    return create_app(load_settings())
