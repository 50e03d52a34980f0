"""Resolving the caller of a request (a user's access token or a system's API key), and the
API rate limit.

Every request re-reads the user or the key: a deactivation, a demotion, a revoked key or a
logged-out session takes effect on the next request, not when a token expires.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from starlette.types import Scope

from core.auth.basic import BasicLogins
from core.auth.credentials import api_key_prefix, same_hash
from core.auth.key_usage import KeyUsage
from core.auth.passwords import PasswordHasher
from core.auth.permissions import DEFERRED_BASIC, Principal, invalid_credentials
from core.auth.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from core.auth.stored_roles import STORED_PERMISSIONS, with_role
from core.auth.tokens import InvalidToken, TokenSigner
from core.errors import TooManyRequests
from core.scopes import client_address, header
from core.storage.models import api_keys, refresh_tokens, users

if TYPE_CHECKING:
    from core.gateway import Gateway

# Probes and platforms' webhooks are not "the API": a load balancer or Meta must not be throttled.
_UNLIMITED_PATHS = ("/healthz", "/readyz", "/webhooks/")


def too_many_requests(wait: float) -> TooManyRequests:
    seconds = max(1, math.ceil(wait))
    return TooManyRequests(f"too many requests: retry in {seconds} s", headers={"Retry-After": str(seconds)})


class AuthService:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.settings = gateway.settings.auth
        self.signer = TokenSigner(self.settings, gateway.settings.server.data_dir)
        self.passwords = PasswordHasher(self.settings.password_scrypt_n, self.settings.password_hash_concurrency)
        self.key_usage = KeyUsage(gateway.db, self.settings.key_usage_flush_interval)
        self.basic = BasicLogins(self)
        memory = MemoryRateLimiter()
        self.limiter: RateLimiter = memory
        if gateway.settings.queue.backend == "arq":
            # The queue is built after this service; its connection is looked up on use.
            self.limiter = RedisRateLimiter(
                lambda: gateway.queue.redis,  # type: ignore[attr-defined]
                f"{gateway.settings.queue.name}:ratelimit",
                fallback=memory,
            )

    async def start(self) -> None:
        await self.key_usage.start()

    async def close(self) -> None:
        await self.key_usage.close()

    async def authenticate(self, scope: Scope) -> Principal | None:
        """The principal of the request's credentials, ``None`` when it has none.

        Present but invalid credentials raise a 401 ``HTTPError`` with no detail.
        """
        api_key = header(scope, b"x-api-key")
        authorization = header(scope, b"authorization")
        if api_key is None and authorization:
            scheme, _, credential = authorization.partition(" ")
            scheme = scheme.lower()
            if scheme == "basic":
                # Verified by the route's guard, and only if the route accepts Basic (core.auth.basic).
                scope.setdefault("state", {})[DEFERRED_BASIC] = self._deferred_basic(scope, credential.strip())
                return None
            if scheme in ("token", "token:"):
                # dhis2gw's scheme (older clients wrote "Token:"): an API key, nothing else.
                scheme, credential = "bearer", credential if api_key_prefix(credential.strip()) else ""
            if scheme != "bearer" or not credential.strip():
                raise invalid_credentials()
            credential = credential.strip()
            if api_key_prefix(credential):
                api_key = credential
            else:
                return await self._user_from_token(credential)
        if api_key is not None:
            return await self._principal_from_key(api_key)
        return None

    def _deferred_basic(self, scope: Scope, credential: str) -> Callable[[bool], Awaitable[Principal | None]]:
        async def verify_if_accepted(accepted: bool) -> Principal | None:
            principal = await self.basic.principal(scope, credential) if accepted else None
            await self.admit(scope, principal)
            return principal

        return verify_if_accepted

    async def session_principal(self, token: str, audience: str) -> Principal:
        """The user of a token issued for ``audience`` (a browser session's cookie), checked as a bearer token is.

        Raises the 401 ``HTTPError`` of any bad credential.
        """
        return await self._user_from_token(token, audience=audience)

    async def _user_from_token(self, token: str, *, audience: str | None = None) -> Principal:
        try:
            claims = self.signer.verify(token, audience=audience)
            user_id = uuid.UUID(str(claims["sub"]))
            session_id = uuid.UUID(str(claims["sid"])) if "sid" in claims else None
        except (InvalidToken, ValueError, KeyError) as err:
            raise invalid_credentials() from err
        query = (
            sa.select(users.c.username, users.c.role, users.c.status, users.c.must_change_password, STORED_PERMISSIONS)
            .select_from(with_role(users))
            .where(users.c.id == user_id)
        )
        if session_id is not None:
            # A token from a login is bound to its session: logging out ends it at once.
            ended = sa.exists().where(
                refresh_tokens.c.family_id == session_id, refresh_tokens.c.revoked_at.is_not(None)
            )
            query = query.add_columns(ended.label("session_ended"))
        async with self.gateway.db.transaction() as conn:
            row = (await conn.execute(query)).first()
        if row is None or row.status != "active" or (session_id is not None and row.session_ended):
            raise invalid_credentials()
        # The role is read from the database, not the token: a demotion applies at once.
        return Principal(
            "user",
            str(user_id),
            row.username,
            role=row.role,
            permissions=self.gateway.roles.resolve(row.role, row.stored_permissions),
            must_change_password=row.must_change_password,
            extra={"claims": claims, "session_id": session_id},
        )

    async def _principal_from_key(self, key: str) -> Principal:
        prefix = api_key_prefix(key)
        if prefix is None:
            raise invalid_credentials()
        now = datetime.now(UTC)
        async with self.gateway.db.transaction() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        api_keys.c.id,
                        api_keys.c.name,
                        api_keys.c.key_hash,
                        api_keys.c.scopes,
                        api_keys.c.platform,
                        api_keys.c.revoked_at,
                        api_keys.c.expires_at,
                        api_keys.c.created_by,
                        api_keys.c.owner_id,
                        users.c.status.label("owner_status"),
                        users.c.role.label("owner_role"),
                        STORED_PERMISSIONS,
                    )
                    .select_from(with_role(api_keys.outerjoin(users, users.c.id == api_keys.c.owner_id)))
                    .where(api_keys.c.prefix == prefix)
                )
            ).first()
        if (
            row is None
            or not same_hash(key, row.key_hash)
            or row.revoked_at is not None
            or (row.expires_at is not None and row.expires_at <= now)
            # A key issued to a user acts for them: it ends with their account, on the next request.
            or (row.owner_id is not None and row.owner_status != "active")
        ):
            raise invalid_credentials()
        self.key_usage.record(row.id, now)
        owner = str(row.owner_id) if row.owner_id else None
        return Principal(
            "api_key",
            str(row.id),
            row.name,
            # A user's key reaches no further than the user's role as it is now (read on every use).
            role=row.owner_role if owner else None,
            permissions=self.gateway.roles.resolve(row.owner_role, row.stored_permissions) if owner else frozenset(),
            scopes=frozenset(row.scopes or []),
            platform=row.platform,
            extra={
                "prefix": prefix,
                "created_by": str(row.created_by) if row.created_by else None,
                "owner": owner,
                "expires_at": row.expires_at,
            },
        )

    async def admit(self, scope: Scope, principal: Principal | None) -> None:
        """The API rate limit, per caller: a user or key by identity, anyone else by address."""
        path = scope["path"]
        if path.startswith(_UNLIMITED_PATHS) or path in self.gateway.webhook_paths:
            return
        who = f"{principal.kind}:{principal.id}" if principal is not None else f"ip:{client_address(scope)}"
        wait = await self.limiter.hit(f"api:{who}", self.settings.api_rate_per_minute, 60)
        if wait:
            raise too_many_requests(wait)

    async def admit_login(self, client: str | None) -> None:
        """The login (and signup) rate limit, per client address."""
        wait = await self.limiter.hit(f"login:{client}", self.settings.login_rate_per_minute, 60)
        if wait:
            raise too_many_requests(wait)

    async def readmit_login(self, client: str | None) -> None:
        """Give back the login limit's count of a check that proved a right password (Basic)."""
        await self.limiter.refund(f"login:{client}", self.settings.login_rate_per_minute, 60)

    def issue_access_token(
        self, user_id: uuid.UUID, role: str, *, session_id: uuid.UUID | None = None
    ) -> tuple[str, dict[str, Any]]:
        """A signed access token; with ``session_id`` it stops working when that session ends."""
        extra: dict[str, Any] = {"sid": str(session_id)} if session_id is not None else {}
        return self.signer.issue(str(user_id), role, **extra)
