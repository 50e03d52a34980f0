"""Resolving the caller of a request: a user's access token or a system's API key."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from starlette.datastructures import Headers
from starlette.types import Scope

from core.auth.keys import api_key_prefix, same_hash
from core.auth.tokens import InvalidToken, TokenSigner
from core.errors import HTTPError
from core.models import api_keys, users
from core.security import Principal

if TYPE_CHECKING:
    from core.gateway import Gateway

_UNAUTHORISED = {"WWW-Authenticate": 'Bearer realm="switchboard", error="invalid_token"'}


class AuthService:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.settings = gateway.settings.auth
        self.signer = TokenSigner(self.settings, gateway.settings.server.data_dir)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def authenticate(self, scope: Scope) -> Principal | None:
        """The principal of the request's credentials, ``None`` when it has none.

        Present but invalid credentials raise a 401 ``HTTPError`` with no detail.
        """
        headers = Headers(scope=scope)
        api_key = headers.get("x-api-key")
        authorization = headers.get("authorization")
        if api_key is None and authorization:
            scheme, _, credential = authorization.partition(" ")
            if scheme.lower() != "bearer" or not credential.strip():
                raise HTTPError("invalid credentials", status_code=401, headers=_UNAUTHORISED)
            credential = credential.strip()
            if api_key_prefix(credential):
                api_key = credential
            else:
                return await self._user_from_token(credential)
        if api_key is not None:
            return await self._principal_from_key(api_key)
        return None

    async def _user_from_token(self, token: str) -> Principal:
        try:
            claims = self.signer.verify(token)
            user_id = uuid.UUID(str(claims["sub"]))
        except (InvalidToken, ValueError, KeyError) as err:
            raise HTTPError("invalid credentials", status_code=401, headers=_UNAUTHORISED) from err
        async with self.gateway.db.transaction() as conn:
            row = (
                await conn.execute(
                    sa.select(users.c.username, users.c.role, users.c.status).where(users.c.id == user_id)
                )
            ).first()
        if row is None or row.status != "active":
            raise HTTPError("invalid credentials", status_code=401, headers=_UNAUTHORISED)
        # The role is read from the database, not the token: a demotion applies at once.
        return Principal("user", str(user_id), row.username, role=row.role, extra={"claims": claims})

    async def _principal_from_key(self, key: str) -> Principal:
        prefix = api_key_prefix(key)
        if prefix is None:
            raise HTTPError("invalid credentials", status_code=401, headers=_UNAUTHORISED)
        now = datetime.now(UTC)
        async with self.gateway.db.transaction() as conn:
            row = (await conn.execute(sa.select(api_keys).where(api_keys.c.prefix == prefix))).first()
            if (
                row is None
                or not same_hash(key, row.key_hash)
                or row.revoked_at is not None
                or (row.expires_at is not None and row.expires_at <= now)
            ):
                raise HTTPError("invalid credentials", status_code=401, headers=_UNAUTHORISED)
            await conn.execute(
                sa.update(api_keys)
                .where(api_keys.c.id == row.id)
                .values(last_used_at=now, usage_count=api_keys.c.usage_count + 1)
            )
        return Principal(
            "api_key",
            str(row.id),
            row.name,
            scopes=frozenset(row.scopes or []),
            platform=row.platform,
            extra={"prefix": row.prefix},
        )

    def issue_access_token(self, user_id: uuid.UUID, role: str) -> tuple[str, dict[str, Any]]:
        return self.signer.issue(str(user_id), role)
