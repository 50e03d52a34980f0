"""``Authorization: Basic``: a user's password on every request, for the routes that declare it.

Only routes marked ``requires(..., basic=True)`` (dhis2gw's compatible surface) accept it: the
authentication middleware leaves the header unverified and the route's guard calls
``BasicLogins.principal`` when its route accepts Basic, or refuses it (401) otherwise. A browser
replays Basic credentials by itself once it has them, so a route that does not need them (the
console above all) must never honour them.

Verifying a password costs a scrypt hash, and dhis2gw's clients send the same header on every
request (the logs viewer one per selected row). A *successful* verification is therefore kept
briefly (``CACHE_SECONDS``) in this process's memory, keyed by an HMAC of the header (never the
password itself), holding the user's id and password hash of that moment. A hit costs what a
bearer token costs, one indexed read of the user, and is taken only if that row still has the
same password hash, is active and not locked: a password change, a reset, a rehash, a
deactivation or a lockout made by any process shows in the row, so every process drops its
entry on its next use. The cache holds nothing another process needs; it only saves hashes.

A correct credential is not a login attempt: its check is counted against the per-address login
limit while it runs (so that a flood of guesses is throttled before it costs a hash) and given
back when it succeeds. A wrong one stays counted, and counts toward the account's lockout
(``check_login``). Concurrent requests with one header in one process share one check.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from starlette.types import Scope

from core.auth.permissions import Principal, invalid_credentials
from core.auth.sessions import check_login
from core.auth.stored_roles import STORED_PERMISSIONS, with_role
from core.scopes import client_address
from core.storage.models import users

if TYPE_CHECKING:
    from core.auth.service import AuthService

# How long a successful verification is reused (each use still re-reads the user).
CACHE_SECONDS = 60.0
MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class _Verified:
    user_id: uuid.UUID
    password_hash: str
    until: float  # time.monotonic()


class BasicLogins:
    """Verifies Basic credentials for one process, with the brief cache described above."""

    def __init__(self, auth: AuthService) -> None:
        self.auth = auth
        self._verified: dict[bytes, _Verified] = {}
        self._checking: dict[bytes, asyncio.Task[Principal]] = {}
        self._hmac_key: bytes | None = None

    def _cache_key(self, credential: str) -> bytes:
        if self._hmac_key is None:
            self._hmac_key = self.auth.signer.derive_key("basic-credential-cache")
        return hmac.new(self._hmac_key, credential.encode(), hashlib.sha256).digest()

    async def principal(self, scope: Scope, credential: str) -> Principal:
        """The user of a Basic credential (the header's part after ``Basic``), or the 401 of a bad one."""
        key = self._cache_key(credential)
        verified = self._verified.get(key)
        if verified is not None:
            if verified.until > time.monotonic():
                principal = await self._still_valid(verified)
                if principal is not None:
                    return principal
            self._verified.pop(key, None)
        task = self._checking.get(key)
        if task is None:
            # The check runs as its own task: a client that disconnects does not cancel it for the others.
            task = asyncio.ensure_future(self._check(scope, credential, key))
            self._checking[key] = task
            task.add_done_callback(lambda done: self._checked(key, done))
        return await asyncio.shield(task)

    def _checked(self, key: bytes, task: asyncio.Task[Principal]) -> None:
        self._checking.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved: a refusal nobody waited for any more is not an error to log

    async def _still_valid(self, verified: _Verified) -> Principal | None:
        query = (
            sa.select(
                users.c.id,
                users.c.username,
                users.c.role,
                users.c.status,
                users.c.must_change_password,
                users.c.password_hash,
                users.c.locked_until,
                STORED_PERMISSIONS,
            )
            .select_from(with_role(users))
            .where(users.c.id == verified.user_id)
        )
        async with self.auth.gateway.db.transaction() as conn:
            row = (await conn.execute(query)).first()
        if (
            row is None
            or row.status != "active"
            or row.password_hash != verified.password_hash
            or (row.locked_until is not None and row.locked_until > datetime.now(UTC))
        ):
            return None
        return _principal_of(row, self.auth.gateway.roles.resolve(row.role, row.stored_permissions))

    async def _check(self, scope: Scope, credential: str, key: bytes) -> Principal:
        client = client_address(scope)
        await self.auth.admit_login(client)
        try:
            username, sep, password = base64.b64decode(credential, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            username, sep, password = "", "", ""
        if not sep or not username:
            self._audit(scope, "anonymous", "anonymous", "login_failed", reason="malformed")
            raise invalid_credentials()
        outcome = await check_login(self.auth.gateway, username, password)
        actor = f"user:{username.strip().lower()[:150]}"
        if outcome.failure is not None or outcome.user is None:
            actor_type = "anonymous" if outcome.user is None else "user"
            self._audit(scope, actor, actor_type, "login_failed", reason=outcome.failure)
            if outcome.locked_now:
                self._audit(scope, actor, "user", "lockout", seconds=self.auth.settings.lockout_seconds)
            raise invalid_credentials()
        await self.auth.readmit_login(client)  # a right password is not a login attempt
        user = outcome.user
        # The hash as stored now: check_login may just have rehashed it (a cost change).
        async with self.auth.gateway.db.transaction() as conn:
            current = (
                await conn.execute(
                    sa.select(users.c.password_hash, STORED_PERMISSIONS)
                    .select_from(with_role(users))
                    .where(users.c.id == user.id)
                )
            ).first()
        if current is not None:
            self._remember(key, _Verified(user.id, current.password_hash, time.monotonic() + CACHE_SECONDS))
        stored = current.stored_permissions if current is not None else None
        permissions = self.auth.gateway.roles.resolve(user.role, stored)
        return _principal_of(user, permissions)

    def _remember(self, key: bytes, verified: _Verified) -> None:
        if len(self._verified) >= MAX_ENTRIES:
            now = time.monotonic()
            self._verified = {k: v for k, v in self._verified.items() if v.until > now}
            if len(self._verified) >= MAX_ENTRIES:
                self._verified.clear()  # every entry is live: start again rather than grow
        self._verified[key] = verified

    def _audit(self, scope: Scope, actor: str, actor_type: str, action: str, **detail: Any) -> None:
        state = scope.get("state", {})
        self.auth.gateway.audit.record(
            "auth",
            action=action,
            actor=actor,
            actor_type=actor_type,
            status=401,
            request_id=state.get("request_id"),
            method=scope.get("method"),
            path=scope.get("path"),
            client=client_address(scope),
            detail={"scheme": "basic", **{k: v for k, v in detail.items() if v is not None}},
        )


def _principal_of(user: Any, permissions: frozenset[str]) -> Principal:
    return Principal(
        "user",
        str(user.id),
        user.username,
        role=user.role,
        permissions=permissions,
        must_change_password=user.must_change_password,
        extra={"scheme": "basic"},
    )
