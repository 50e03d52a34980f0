"""Security events in the audit log (kind ``auth``): who did what, from where.

Never a password, a token or a key: only names, ids, key prefixes and outcomes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from core.auth.permissions import Principal
from core.scopes import client_address

if TYPE_CHECKING:
    from core.gateway import Gateway


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
    """Record one auth event. Without ``actor``, the request's principal is the actor."""
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
