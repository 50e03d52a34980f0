"""Who is calling, and what each endpoint requires of them.

``Principal`` is the authenticated caller, with the permissions of its role; ``requires``
marks an endpoint with the one permission it needs and the API-key scopes that may call it (a
``Requirement``). The permissions and roles themselves are in ``core.auth.roles``.
``core.web.security`` enforces the marks on every route when the app is built: an endpoint that
declares no permission needs a signed-in user (any role); ``requires(public=True)`` is only for
health checks, login and webhooks, whose adapters check their own signatures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from core.auth.roles import BUILTIN_ROLES
from core.errors import HTTPError

PrincipalKind = Literal["user", "api_key", "adapter", "system"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request."""

    kind: PrincipalKind
    id: str
    name: str
    role: str | None = None
    scopes: frozenset[str] = frozenset()
    # The permissions of ``role`` (a key's: of its owner's role, read on every use).
    permissions: frozenset[str] = frozenset()
    platform: str | None = None
    # A user whose password an admin reset: only the routes that let them change it are open.
    must_change_password: bool = False
    # Claims of the access token, or the key's row; for the auth module's own use.
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def has_role(self, role: str) -> bool:
        """Whether the caller's role is the built-in ``role`` or one above it (viewer < operator < admin).

        Kept for plugins written before permissions: a configured role is none of these, so
        prefer ``can(permission)``.
        """
        ranks = {name: rank for rank, name in enumerate(BUILTIN_ROLES, start=1)}
        return self.role is not None and ranks.get(self.role, 0) >= ranks[role]

    def can(self, permission: str) -> bool:
        """Whether the caller's role holds ``permission`` (``"deliveries.repair"``).

        A key without an owner has no role: it is governed by its scopes alone (``has_scope``).
        """
        return permission in self.permissions

    def has_scope(self, scope: str) -> bool:
        """Whether the caller may act under ``scope``: a user by role (always), a key by its scopes."""
        if self.kind == "user":
            return True  # users are governed by roles
        return self.holds_scope(scope)

    def holds_scope(self, scope: str) -> bool:
        """Whether the credential itself carries ``scope``; no role implies one (a webhook's ``webhooks:<name>``)."""
        if scope in self.scopes or "*" in self.scopes:
            return True
        # "webhooks:<platform>" is implied by a key bound to that platform
        return scope.startswith("webhooks:") and self.platform == scope.split(":", 1)[1]

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"


# The request state's key under which the authentication middleware leaves a Basic credential
# unverified: ``await state[DEFERRED_BASIC](accepted)`` verifies it when the route accepts Basic
# (its principal, or a 401), and otherwise only counts the request against the rate limit (None).
DEFERRED_BASIC = "deferred_basic"
_UNAUTHORISED = {"WWW-Authenticate": 'Bearer realm="switchboard", error="invalid_token"'}


def invalid_credentials() -> HTTPError:
    """The one answer to every bad credential: it says nothing about what was wrong."""
    return HTTPError("invalid credentials", status_code=401, headers=_UNAUTHORISED)


def basic_not_accepted() -> HTTPError:
    """The 401 of ``Authorization: Basic`` on a route that does not declare it."""
    return HTTPError(
        "Basic authentication is not accepted here: use a bearer token or an API key",
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="switchboard"'},
    )


def authentication_required() -> HTTPError:
    """The 401 of a request that carries no credentials where some are needed."""
    return HTTPError(
        "authentication required", status_code=401, headers={"WWW-Authenticate": 'Bearer realm="switchboard"'}
    )


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a route requires: a permission of the user's role, and the API-key scopes that may call it."""

    # A permission (``"deliveries.repair"``), a built-in role's name (every permission that role
    # holds as shipped: ``requires("operator")`` of plugins written before permissions), or None
    # (any signed-in user).
    permission: str | None = None
    scopes: tuple[str, ...] = ()
    public: bool = False
    # Open to a user who must change their password first (me, change password, logout).
    during_password_change: bool = False
    # Accepts ``Authorization: Basic`` (dhis2gw's clients); no other route does.
    basic: bool = False
    # Set by ``requires``: the route says what it needs (the security matrix asks every route to).
    declared: bool = False

    def check(self, principal: Principal | None, needs: frozenset[str] = frozenset()) -> None:
        """Refuse ``principal`` (401 or 403) unless it holds ``needs`` (what ``permission`` stands for)."""
        if self.public:
            return
        if principal is None:
            raise authentication_required()
        if principal.kind == "user":
            if principal.must_change_password and not self.during_password_change:
                raise HTTPError("your password must be changed first (POST /api/auth/password)", status_code=403)
            if not needs <= principal.permissions:
                raise HTTPError(f"this needs {self._what()}", status_code=403)
            return
        if not self.scopes or not any(principal.has_scope(s) for s in self.scopes):
            needed = " or ".join(self.scopes) if self.scopes else "a user session"
            raise HTTPError(f"this API key may not do this (needs {needed})", status_code=403)
        if principal.role is not None and not needs <= principal.permissions:
            # A key issued to a user (``owner``) is held to that user's current role too.
            raise HTTPError(f"this key's user lacks {self._what()}", status_code=403)

    def _what(self) -> str:
        if self.permission in BUILTIN_ROLES:
            return f"what the {self.permission} role holds"
        return f"the {self.permission} permission"


DEFAULT_REQUIREMENT = Requirement()
PUBLIC = Requirement(public=True, declared=True)
F = TypeVar("F", bound=Callable[..., Any])
_ATTR = "__switchboard_permission__"


def requires(
    permission: str | None = None,
    *,
    scopes: Iterable[str] = (),
    public: bool = False,
    basic: bool = False,
    role: str | None = None,
) -> Callable[[F], F]:
    """Declare what an endpoint needs: ``@requires("dhis2.submit", scopes=["dhis2:aggregate"])``.

    ``permission`` is one the core or a plugin declares (``core.auth.roles``; an unknown one
    stops the app from being built); a user's role must hold it, and so must the role of an API
    key's owner. ``None``: any signed-in user. A built-in role's name (``"operator"``) still
    works and asks for every permission that role holds as shipped. ``scopes``: the API-key
    scopes that may call the endpoint (none: keys may not). ``public=True``: no credentials
    (health checks, login, webhooks whose adapters check their own signatures).

    ``basic=True``: the endpoint also accepts a user's ``Authorization: Basic`` credentials (for
    clients of an older API that send them on every request); every other endpoint refuses them.

    ``role=``: the keyword of plugin API 1.2 and before (``requires(role="operator")``), the same
    as passing the built-in role's name first.
    """
    if role is not None:
        if permission is not None:
            raise TypeError("requires(): give a permission or role=, not both")
        permission = role
    requirement = Requirement(permission, tuple(scopes), public=public, basic=basic, declared=True)

    def mark(endpoint: F) -> F:
        setattr(endpoint, _ATTR, requirement)
        return endpoint

    return mark


def open_during_password_change(endpoint: F) -> F:
    """Let a user who must change their password reach this endpoint (apply after ``requires``)."""
    setattr(endpoint, _ATTR, replace(permission_of(endpoint), during_password_change=True))
    return endpoint


def permission_of(endpoint: Any) -> Requirement:
    """What ``endpoint`` requires (``requires``); a signed-in user when it declares nothing."""
    return getattr(endpoint, _ATTR, DEFAULT_REQUIREMENT)
