"""Security events in the audit log (kind ``auth``): who did what, from where.

Never a password, a token or a key: only names, ids, key prefixes and outcomes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from core.auth.permissions import Principal
from core.auth.roles import Role
from core.scopes import client_address

if TYPE_CHECKING:
    from core.gateway import Gateway

# The one vocabulary of security events, written by the API, the console and the CLI alike
# (docs/security.md, "Audit", lists the same names: tests/test_auth_events.py checks both).
AUTH_EVENTS = frozenset(
    {
        "login",
        "login_failed",
        "lockout",
        "logout",
        "refresh",
        "refresh_failed",
        "refresh_reuse",
        "password_changed",
        "password_change_failed",
        "password_reset",
        "unlocked",
        "signup",
        "signup_taken",
        "user_created",
        "role_changed",
        "user_deactivated",
        "user_status_changed",
        "user_approved",
        "user_rejected",
        "user_updated",
        "api_key_created",
        "api_key_rotated",
        "api_key_revoked",
        "participant_erased",
        "participant_export_requested",
        "role_defined",
        "role_deleted",
    }
)


def actor_of(principal: Principal | None) -> tuple[str, str]:
    """``(actor, actor_type)`` as the audit log records them."""
    if principal is None:
        return "anonymous", "anonymous"
    return principal.label, principal.kind


def record_event(
    gateway: Gateway,
    action: str,
    *,
    request: Request | None = None,
    actor: str | None = None,
    actor_type: str | None = None,
    status: int | None = None,
    **detail: Any,
) -> None:
    """Record one auth event (one of ``AUTH_EVENTS``). Without ``actor``, the request's principal is the actor."""
    if action not in AUTH_EVENTS:
        raise ValueError(f"{action!r} is not an audit event name: add it to AUTH_EVENTS and docs/security.md")
    if actor is None:
        principal = getattr(request.state, "principal", None) if request is not None else None
        actor, actor_type = actor_of(principal)
    fields: dict[str, Any] = {"action": action, "actor": actor, "actor_type": actor_type, "status": status}
    if request is not None:
        fields |= {
            "request_id": getattr(request.state, "request_id", None),
            "method": request.method,
            "path": request.url.path,
            "client": client_address(request.scope),
        }
    if detail:
        fields["detail"] = {k: v for k, v in detail.items() if v is not None}
    gateway.audit.record("auth", **fields)


def record_user_changes(
    gateway: Gateway, before: Any, after: Any, *, request: Request | None = None, status: int = 200
) -> None:
    """The events of one change to a user (``before`` and ``after`` are its rows): role, active state, details."""
    name = after.username
    if before.role != after.role:
        record_event(
            gateway, "role_changed", request=request, status=status, user=name, previous=before.role, role=after.role
        )
    if before.status != after.status:
        action = "user_deactivated" if after.status == "inactive" else "user_status_changed"
        record_event(
            gateway, action, request=request, status=status, user=name, previous=before.status, state=after.status
        )
    changed = [c for c in ("full_name", "email", "must_change_password") if getattr(before, c) != getattr(after, c)]
    if changed:
        record_event(gateway, "user_updated", request=request, status=status, user=name, fields=changed)


def record_decision(
    gateway: Gateway, before: Any, after: Any, *, request: Request | None = None, status: int = 200
) -> None:
    """The events of a signup approved or rejected, with the role it was given."""
    action = "user_approved" if after.status == "active" else "user_rejected"
    record_event(gateway, action, request=request, status=status, user=after.username, role=after.role)
    if before.role != after.role:
        record_event(
            gateway,
            "role_changed",
            request=request,
            status=status,
            user=after.username,
            previous=before.role,
            role=after.role,
        )


def record_role_defined(
    gateway: Gateway, before: Role | None, after: Role, *, request: Request | None = None, status: int | None = None
) -> None:
    """``role_defined``: a role created or changed at run time, with the permissions added and removed."""
    was = before.permissions if before is not None else frozenset()
    record_event(
        gateway,
        "role_defined",
        request=request,
        status=status,
        role=after.name,
        created=before is None,
        added=sorted(after.permissions - was),
        removed=sorted(was - after.permissions),
    )
