"""What plugins may use of the core's authentication: scoped tokens and rate limits.

A plugin that logs in callers of its own (a web form's anonymous users after an e-mailed
code) signs their tokens with the core's key, for an audience of its own: the core's bearer
authentication refuses them, so they open only what the plugin checks them for. Its rate
limits count in the core's limiter: in Redis with the arq backend (shared by every process),
in memory with the local one (a single process).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.auth.service import too_many_requests
from core.auth.tokens import InvalidToken

if TYPE_CHECKING:
    from core.gateway import Gateway

__all__ = ["InvalidToken", "issue_token", "rate_limit", "verify_token"]


def issue_token(gateway: Gateway, subject: str, *, audience: str, ttl: int, **claims: Any) -> str:
    """A JWT signed with the core's key for ``audience`` (not the core's), valid ``ttl`` seconds.

    ``claims`` are added to the standard ones (``sub``, ``iss``, ``aud``, ``iat``, ``exp``, ``jti``).
    """
    token, _ = gateway.auth.signer.issue_scoped(subject, audience=audience, ttl=ttl, **claims)
    return token


def verify_token(gateway: Gateway, token: str, *, audience: str) -> dict[str, Any]:
    """The claims of a token ``issue_token`` signed for ``audience``; raises ``InvalidToken`` otherwise."""
    if audience == gateway.settings.auth.audience:
        raise InvalidToken("not a scoped audience")
    return gateway.auth.signer.verify(token, audience=audience)


async def rate_limit(gateway: Gateway, key: str, *, limit: int, period: float) -> None:
    """Count one request against ``key`` (at most ``limit`` per ``period`` seconds).

    Raises ``TooManyRequests`` (429 with ``Retry-After``) when over. Keys are namespaced
    apart from the core's own (``plugin:<key>``); put your plugin's name in them.
    """
    wait = await gateway.auth.limiter.hit(f"plugin:{key}", limit, period)
    if wait:
        raise too_many_requests(wait)
