"""Who is calling, and what each route requires.

Every route is wrapped in a ``Guard`` when the app is built: a route that declares nothing
needs a signed-in user (any role); ``requires(public=True)`` is only for health checks,
login and webhooks, whose adapters check their own signatures.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from core.errors import HTTPError

ROLES: dict[str, int] = {"viewer": 1, "operator": 2, "admin": 3}
PrincipalKind = Literal["user", "api_key", "adapter", "system"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request."""

    kind: PrincipalKind
    id: str
    name: str
    role: str | None = None
    scopes: frozenset[str] = frozenset()
    platform: str | None = None
    # A user whose password an admin reset: only the routes that let them change it are open.
    must_change_password: bool = False
    # Claims of the access token, or the key's row; for the auth module's own use.
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def has_role(self, role: str) -> bool:
        return self.role is not None and ROLES.get(self.role, 0) >= ROLES[role]

    def has_scope(self, scope: str) -> bool:
        if self.kind == "user":
            return True  # users are governed by roles
        if scope in self.scopes or "*" in self.scopes:
            return True
        # "webhooks:<platform>" is implied by a key bound to that platform
        return scope.startswith("webhooks:") and self.platform == scope.split(":", 1)[1]

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True, slots=True)
class Permission:
    """What a route requires: a minimum user role, and the API-key scopes that may call it."""

    role: str = "viewer"
    scopes: tuple[str, ...] = ()
    public: bool = False
    # Open to a user who must change their password first (me, change password, logout).
    during_password_change: bool = False

    def check(self, principal: Principal | None) -> None:
        if self.public:
            return
        if principal is None:
            raise HTTPError(
                "authentication required", status_code=401, headers={"WWW-Authenticate": 'Bearer realm="switchboard"'}
            )
        if principal.kind == "user":
            if principal.must_change_password and not self.during_password_change:
                raise HTTPError("your password must be changed first (POST /api/auth/password)", status_code=403)
            if not principal.has_role(self.role):
                raise HTTPError(f"this needs the {self.role} role", status_code=403)
            return
        if not self.scopes or not any(principal.has_scope(s) for s in self.scopes):
            needed = " or ".join(self.scopes) if self.scopes else "a user session"
            raise HTTPError(f"this API key may not do this (needs {needed})", status_code=403)


DEFAULT_PERMISSION = Permission()
PUBLIC = Permission(public=True)
F = TypeVar("F", bound=Callable[..., Any])
_ATTR = "__switchboard_permission__"


def requires(role: str = "viewer", *, scopes: Iterable[str] = (), public: bool = False) -> Callable[[F], F]:
    """Declare what an endpoint needs: ``@requires("operator", scopes=["dhis2:aggregate"])``."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {sorted(ROLES)}")
    permission = Permission(role=role, scopes=tuple(scopes), public=public)

    def mark(endpoint: F) -> F:
        setattr(endpoint, _ATTR, permission)
        return endpoint

    return mark


def open_during_password_change(endpoint: F) -> F:
    """Let a user who must change their password reach this endpoint (apply after ``requires``)."""
    setattr(endpoint, _ATTR, replace(permission_of(endpoint), during_password_change=True))
    return endpoint


def permission_of(endpoint: Any) -> Permission:
    return getattr(endpoint, _ATTR, DEFAULT_PERMISSION)


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

    def __init__(self, app: ASGIApp, permission: Permission, max_body_bytes: int | None = None) -> None:
        self.app = app
        self.permission = permission
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal")
        self.permission.check(principal)
        if self.max_body_bytes is not None:
            scope.setdefault("state", {})["max_body_bytes"] = self.max_body_bytes
        await self.app(scope, receive, send)


def guard_routes(routes: Iterable[BaseRoute]) -> list[BaseRoute]:
    """Wrap every route (recursively through mounts) in its ``Guard``; returns the same routes."""
    out = list(routes)
    for route in out:
        if isinstance(route, Route | WebSocketRoute):
            if not isinstance(route.app, Guard):
                route.app = Guard(route.app, permission_of(route.endpoint), max_body_of(route.endpoint))
        elif isinstance(route, Mount):
            if route.routes:
                guard_routes(route.routes)
            elif not isinstance(route.app, Guard):
                # A mounted app (static files): governed by its own marker, or signed-in users.
                route.app = Guard(route.app, permission_of(route.app))
    return out


def walk_routes(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, set[str], Permission, Any]]:
    """Every endpoint: (path, methods, permission, endpoint). For the role × route matrix and OpenAPI."""
    for route in routes:
        if isinstance(route, Route):
            methods = set(route.methods or {"GET"}) - {"HEAD"}
            yield prefix + route.path, methods, permission_of(route.endpoint), route.endpoint
        elif isinstance(route, Mount):
            if route.routes:
                yield from walk_routes(route.routes, prefix + route.path)
            else:
                yield prefix + route.path + "/{path}", {"GET"}, permission_of(route.app), route.app
