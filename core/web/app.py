"""The app factory: ``create_app(settings)`` builds one independent gateway app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.types import Scope

from core.config.settings import Settings, load_settings
from core.contracts import is_at_root
from core.gateway import Gateway, freeze_startup_heap
from core.scopes import client_address
from core.web.middleware import Authentication, BodyLimit, RequestContext
from core.web.responses import EXCEPTION_HANDLERS
from core.web.security import guard_routes, max_body_of, walk_routes


def _version() -> str:
    try:
        return version("switchboard")
    except PackageNotFoundError:
        return "0.0.0+local"


def create_app(settings: Settings, *, plugins: Iterable[tuple[str, object]] = ()) -> Starlette:
    """Build an app: its own plugin manager, engine, HTTP client and queue.

    ``plugins`` registers extra in-process plugins as ``(name, module_or_object)`` pairs,
    beside those found through the ``switchboard`` entry points (tests use it).
    """
    gateway = Gateway(settings, list(plugins))

    routes: list[BaseRoute] = []
    for name, own in gateway.plugins.each("switchboard_routes", gateway=gateway).items():
        if name in gateway.plugins.internal:
            routes.extend(own)  # the core's own routes, at the root (webhooks first)
            continue
        # A route marked with core.at_root (the admin UI's /admin) is mounted at the root.
        rooted = [r for r in own if is_at_root(r)]
        own = [r for r in own if not is_at_root(r)]
        routes.extend(rooted)
        if own:
            routes.append(Mount(f"/plugins/{name}", routes=own))
        gateway.plugins.infos[name].routes = [getattr(r, "path", "") for r in rooted] + [
            f"/plugins/{name}{getattr(r, 'path', '')}" for r in own
        ]

    async def observe(scope: Scope, status: int, duration_ms: float, error: str | None) -> None:
        state = scope.get("state", {})
        if state.get("audited") or scope["path"] in ("/healthz", "/readyz") or scope["path"].startswith("/docs"):
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
        routes=guard_routes(routes),
        middleware=[
            Middleware(RequestContext, observe=observe),
            Middleware(BodyLimit, max_bytes=settings.server.max_body_bytes, ceiling=_largest_body_limit(routes)),
            Middleware(Authentication, authenticate=gateway.auth.authenticate, admit=gateway.auth.admit),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    app.state.version = _version()
    return app


def _largest_body_limit(routes: list[BaseRoute]) -> int:
    """The largest body any route accepts (``core.max_body``): the limit enforced before routing."""
    return max((max_body_of(endpoint) or 0 for _, _, _, endpoint in walk_routes(routes)), default=0)


def app_from_environment() -> Any:
    """ASGI factory for ``uvicorn --factory core.web.app:app_from_environment`` (several workers)."""
    return create_app(load_settings())
