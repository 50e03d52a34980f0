"""Route guards: every route enforces its endpoint's ``Requirement`` and body limit.

Every route is wrapped in a ``Guard`` when the app is built (``guard_routes``); the marks come
from ``core.auth.permissions.requires`` and ``max_body`` here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from core.auth.permissions import _ATTR, DEFERRED_BASIC, Requirement, basic_not_accepted, permission_of
from core.auth.roles import BUILTIN_ROLES, Roles

F = TypeVar("F", bound=Callable[..., Any])
_BODY_ATTR = "__switchboard_max_body__"


def max_body(max_bytes: int) -> Callable[[F], F]:
    """Let an endpoint accept bodies up to ``max_bytes`` instead of ``[server] max_body_bytes`` (uploads).

    Returns a new endpoint (the original keeps its limit), so a plugin can apply a limit from
    its settings when it builds its routes: ``Route("/import", max_body(limit)(endpoint))``.
    """
    if max_bytes < 1:
        raise ValueError("max_bytes must be positive")

    def mark(endpoint: F) -> F:
        @functools.wraps(endpoint)
        async def limited(*args: Any, **kwargs: Any) -> Any:
            return await endpoint(*args, **kwargs)

        setattr(limited, _ATTR, permission_of(endpoint))
        setattr(limited, _BODY_ATTR, max_bytes)
        return limited  # type: ignore[return-value]

    return mark


def max_body_of(endpoint: Any) -> int | None:
    """The body limit an endpoint declared with ``max_body``, if any."""
    return getattr(endpoint, _BODY_ATTR, None)


class Guard:
    """ASGI wrapper that enforces a route's permission before its endpoint runs.

    It also tells ``BodyLimit`` the route's own body limit (``max_body``), if it has one.
    """

    def __init__(
        self, app: ASGIApp, permission: Requirement, needs: frozenset[str], max_body_bytes: int | None = None
    ) -> None:
        self.app = app
        self.permission = permission
        self.needs = needs  # the permissions the caller's role must hold
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state", {})
        deferred_basic = state.pop(DEFERRED_BASIC, None)
        if deferred_basic is not None:
            # Basic credentials are verified only where the route declares them (requires(basic=True)).
            accepted = self.permission.basic and not self.permission.public
            basic_principal = await deferred_basic(accepted)
            if basic_principal is not None:
                state["principal"] = basic_principal
            elif not self.permission.public:
                raise basic_not_accepted()
        principal = state.get("principal")
        self.permission.check(principal, self.needs)
        if self.max_body_bytes is not None:
            scope.setdefault("state", {})["max_body_bytes"] = self.max_body_bytes
        await self.app(scope, receive, send)


def needed(requirement: Requirement, roles: Roles, where: str) -> frozenset[str]:
    """The permissions a caller's role must hold to pass ``requirement`` (of the route ``where``)."""
    name = requirement.permission
    if requirement.public or name is None:
        return frozenset()
    roles.check_permission(name, where)
    return roles.of_builtin(name) if name in BUILTIN_ROLES else frozenset([name])


def guard_routes(routes: Iterable[BaseRoute], roles: Roles, prefix: str = "") -> list[BaseRoute]:
    """Wrap every route (recursively through mounts) in its ``Guard``; returns the same routes.

    Raises ``PluginError`` for a route that requires a permission nobody declared.
    """
    out = list(routes)
    for route in out:
        if isinstance(route, Route | WebSocketRoute):
            if not isinstance(route.app, Guard):
                requirement = permission_of(route.endpoint)
                needs = needed(requirement, roles, f"route {prefix}{route.path}")
                route.app = Guard(route.app, requirement, needs, max_body_of(route.endpoint))
        elif isinstance(route, Mount):
            if route.routes:
                guard_routes(route.routes, roles, prefix + route.path)
            elif not isinstance(route.app, Guard):
                # A mounted app (static files): governed by its own marker, or signed-in users.
                requirement = permission_of(route.app)
                route.app = Guard(route.app, requirement, needed(requirement, roles, f"mount {prefix}{route.path}"))
    return out


def walk_routes(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, set[str], Requirement, Any]]:
    """Every endpoint: (path, methods, permission, endpoint). For the role × route matrix and OpenAPI."""
    for route in routes:
        if isinstance(route, Route):
            methods = set(route.methods or {"GET"}) - {"HEAD"}
            yield prefix + route.path, methods, permission_of(route.endpoint), route.endpoint
        elif isinstance(route, Mount):
            if route.routes:
                yield from walk_routes(route.routes, prefix + route.path)
            else:
                app = route.app.app if isinstance(route.app, Guard) else route.app
                yield prefix + route.path + "/{path}", {"GET"}, permission_of(app), app
