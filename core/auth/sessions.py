"""Logins and sessions: password checks with lockout, token pairs, refresh rotation, logout.

A session is the family of refresh tokens descended from one login; its id (``sid``) is in
every access token issued for it. Refreshing rotates the refresh token: the old one stops
working, and presenting it again means it was copied, so the whole family is revoked
(its access tokens too, since each request checks that its session has not ended).

The refresh-token rows are also the record that a session ended (``revoked_at``), so no row of
a session may be deleted while a token of it can still be valid: each row lives at least as long
as any token issued with it (an access token, or a longer-lived credential such as the console's
cookie, whose lifetime its ``start_session`` passes as ``lasts``). The retention job deletes only
rows past that expiry, and so a logout, "log out everywhere" or a password change holds for the
whole life of the session's tokens.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Row

from core.auth.credentials import hash_secret, new_refresh_token
from core.storage.ids import uuid7
from core.storage.models import refresh_tokens, users

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from core.gateway import Gateway

LoginFailure = Literal["unknown_user", "wrong_password", "locked", "not_active"]
RefreshFailure = Literal["unknown", "expired", "revoked", "reused", "user_inactive"]


@dataclass(frozen=True)
class LoginOutcome:
    user: Row[Any] | None
    failure: LoginFailure | None = None
    locked_now: bool = False  # this failure locked the account


@dataclass(frozen=True)
class RefreshOutcome:
    username: str | None
    session_id: uuid.UUID | None
    tokens: dict[str, Any] | None = None
    failure: RefreshFailure | None = None


async def check_login(gateway: Gateway, username: str, password: str) -> LoginOutcome:
    """Check a username and password; counts failures and locks the account after too many.

    Every path verifies one password hash (a dummy for an unknown user, the real one for
    a locked account), so the answer takes as long whatever was wrong.
    """
    async with gateway.db.transaction() as conn:
        user = (await conn.execute(sa.select(users).where(users.c.username == username.strip().lower()))).first()
    if user is None:
        await gateway.auth.passwords.verify(password, None)
        return LoginOutcome(None, "unknown_user")
    outcome = await check_password_of(gateway, user, password)
    if outcome.failure is not None:
        return outcome
    if user.status != "active":
        return LoginOutcome(user, "not_active")
    values: dict[str, Any] = {"last_login_at": datetime.now(UTC)}
    if gateway.auth.passwords.needs_rehash(user.password_hash):
        values["password_hash"] = await gateway.auth.passwords.hash(password)
    async with gateway.db.transaction() as conn:
        await conn.execute(sa.update(users).where(users.c.id == user.id).values(**values))
    return outcome


async def check_password_of(gateway: Gateway, user: Row[Any], password: str) -> LoginOutcome:
    """Verify a known user's password under the lockout rules (for a login or a password change).

    The attempt is counted *before* its password is checked, in one conditional statement that
    refuses it when the account is locked or when failures plus attempts in flight already reach
    ``lockout_attempts``. So however many requests arrive at once, in however many processes, at
    most that many passwords are checked before the account locks; a refused attempt checks none
    (it verifies a dummy hash, so it takes as long). A right password gives its count back and
    clears the failures; a wrong one keeps it and, at the limit, locks the account. An attempt cut
    off in flight (a dropped connection, a killed process) stays counted as a failure.
    """
    settings = gateway.settings.auth
    now = datetime.now(UTC)
    async with gateway.db.transaction() as conn:
        claimed = (
            await conn.execute(
                sa.update(users)
                .where(
                    users.c.id == user.id,
                    users.c.failed_logins < settings.lockout_attempts,
                    sa.or_(users.c.locked_until.is_(None), users.c.locked_until <= now),
                )
                .values(failed_logins=users.c.failed_logins + 1)
                .returning(users.c.failed_logins)
            )
        ).first()
    if claimed is None:
        # Even the right password is refused while locked: otherwise guessing goes on. Refused
        # unlocked (the limit is taken by attempts in flight, or by ones cut off that never gave
        # their count back), the account locks now, so the count starts again when the lock ends;
        # an attempt in flight that proves the right password lifts it.
        async with gateway.db.transaction() as conn:
            locked = await conn.execute(
                sa.update(users)
                .where(
                    users.c.id == user.id,
                    users.c.failed_logins >= settings.lockout_attempts,
                    sa.or_(users.c.locked_until.is_(None), users.c.locked_until <= now),
                )
                .values(failed_logins=0, locked_until=now + timedelta(seconds=settings.lockout_seconds))
            )
        await gateway.auth.passwords.verify(password, None)
        return LoginOutcome(user, "locked", locked_now=bool(locked.rowcount))
    matched = await gateway.auth.passwords.verify(password, user.password_hash)
    async with gateway.db.transaction() as conn:
        if matched:
            await conn.execute(sa.update(users).where(users.c.id == user.id).values(failed_logins=0, locked_until=None))
            return LoginOutcome(user)
        locked = await conn.execute(
            sa.update(users)
            .where(users.c.id == user.id, users.c.failed_logins >= settings.lockout_attempts)
            .values(failed_logins=0, locked_until=datetime.now(UTC) + timedelta(seconds=settings.lockout_seconds))
        )
    return LoginOutcome(user, "wrong_password", locked_now=bool(locked.rowcount))


async def _new_refresh_token(
    conn: AsyncConnection,
    gateway: Gateway,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    now: datetime,
    client: str | None,
    user_agent: str | None,
    lasts: int = 0,
) -> str:
    token = new_refresh_token()
    settings = gateway.settings.auth
    # The row is the session's record (see the module's docstring): it outlives every token issued with it.
    lifetime = max(settings.refresh_token_ttl, settings.access_token_ttl, lasts)
    await conn.execute(
        refresh_tokens.insert().values(
            id=uuid7(),
            user_id=user_id,
            family_id=session_id,
            token_hash=hash_secret(token),
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime),
            client=client[:64] if client else None,
            user_agent=user_agent[:255] if user_agent else None,
        )
    )
    return token


def _token_pair(gateway: Gateway, user: Row[Any], session_id: uuid.UUID, refresh_token: str) -> dict[str, Any]:
    access_token, claims = gateway.auth.issue_access_token(user.id, user.role, session_id=session_id)
    return {
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": claims["exp"] - claims["iat"],
        "refresh_token": refresh_token,
        "must_change_password": user.must_change_password,
    }


async def start_session(
    gateway: Gateway, user: Row[Any], *, client: str | None, user_agent: str | None, lasts: int = 0
) -> tuple[uuid.UUID, dict[str, Any]]:
    """A new session for a user who has just proved who they are: ``(session id, token pair)``.

    ``lasts``: the lifetime in seconds of a credential the caller issues for this session beyond
    the pair (the console's cookie); the session's record is kept at least that long, so ending
    the session holds until that credential expires.
    """
    session_id = uuid7()
    now = datetime.now(UTC)
    async with gateway.db.transaction() as conn:
        token = await _new_refresh_token(conn, gateway, user.id, session_id, now, client, user_agent, lasts)
    return session_id, _token_pair(gateway, user, session_id, token)


async def refresh_session(
    gateway: Gateway, refresh_token: str, *, client: str | None, user_agent: str | None
) -> RefreshOutcome:
    """Rotate a refresh token into a new pair; a reused token revokes its whole session."""
    now = datetime.now(UTC)
    async with gateway.db.transaction() as conn:
        row = (
            await conn.execute(
                sa.select(refresh_tokens, users.c.username)
                .join(users, users.c.id == refresh_tokens.c.user_id)
                .where(refresh_tokens.c.token_hash == hash_secret(refresh_token))
            )
        ).first()
        if row is None:
            return RefreshOutcome(None, None, failure="unknown")
        if row.revoked_at is not None:
            return RefreshOutcome(row.username, row.family_id, failure="revoked")
        if row.rotated_at is None and row.expires_at <= now:
            return RefreshOutcome(row.username, row.family_id, failure="expired")
        # Mark it rotated only if nobody did first: of two racing uses of one token, one wins.
        rotated = await conn.execute(
            sa.update(refresh_tokens)
            .where(refresh_tokens.c.id == row.id, refresh_tokens.c.rotated_at.is_(None))
            .values(rotated_at=now)
        )
        if not rotated.rowcount:
            await _revoke(conn, refresh_tokens.c.family_id == row.family_id, now)
            return RefreshOutcome(row.username, row.family_id, failure="reused")
        user = (await conn.execute(sa.select(users).where(users.c.id == row.user_id))).first()
        if user is None or user.status != "active":
            await _revoke(conn, refresh_tokens.c.family_id == row.family_id, now)
            return RefreshOutcome(row.username, row.family_id, failure="user_inactive")
        token = await _new_refresh_token(conn, gateway, user.id, row.family_id, now, client, user_agent)
    return RefreshOutcome(user.username, row.family_id, tokens=_token_pair(gateway, user, row.family_id, token))


async def _revoke(conn: AsyncConnection, where: Any, now: datetime) -> int:
    result = await conn.execute(
        sa.update(refresh_tokens).where(where, refresh_tokens.c.revoked_at.is_(None)).values(revoked_at=now)
    )
    return int(result.rowcount or 0)


async def end_session(gateway: Gateway, session_id: uuid.UUID) -> None:
    """Log out one session: its refresh tokens and access tokens stop working at once."""
    async with gateway.db.transaction() as conn:
        await _revoke(conn, refresh_tokens.c.family_id == session_id, datetime.now(UTC))


async def end_user_sessions(
    conn: AsyncConnection, user_id: uuid.UUID, *, now: datetime | None = None, keep: uuid.UUID | None = None
) -> int:
    """End every session of a user (but ``keep``), inside the caller's transaction."""
    where = refresh_tokens.c.user_id == user_id
    if keep is not None:
        where = sa.and_(where, refresh_tokens.c.family_id != keep)
    return await _revoke(conn, where, now or datetime.now(UTC))


async def session_of_refresh_token(gateway: Gateway, refresh_token: str, user_id: uuid.UUID) -> uuid.UUID | None:
    """The session a refresh token belongs to, if it is this user's."""
    async with gateway.db.transaction() as conn:
        row = (
            await conn.execute(
                sa.select(refresh_tokens.c.family_id).where(
                    refresh_tokens.c.token_hash == hash_secret(refresh_token), refresh_tokens.c.user_id == user_id
                )
            )
        ).first()
    return row.family_id if row is not None else None


async def purge_expired_refresh_tokens(gateway: Gateway, *, now: datetime | None = None) -> int:
    """Delete refresh tokens past their expiry: they can never be used, nor reused, and every token
    issued with them has expired too, so no ended session comes back (``now``: for tests)."""
    cutoff = now or datetime.now(UTC)
    async with gateway.db.transaction() as conn:
        result = await conn.execute(sa.delete(refresh_tokens).where(refresh_tokens.c.expires_at < cutoff))
    return int(result.rowcount or 0)
