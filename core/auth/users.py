"""The user directory: creating, finding, listing and changing users (for the API and the CLI).

Rules that hold whoever asks: usernames are unique and lower-case, passwords pass the
policy, and the last active admin cannot be demoted or deactivated. Ending a user's
sessions (deactivation, a password reset) is done in the same transaction as the change.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from core.auth.password_policy import password_problems
from core.auth.sessions import end_user_sessions
from core.auth.stored_roles import role_exists, stored_roles
from core.errors import Conflict, NotFound, Unprocessable
from core.storage.cursors import decode_cursor, encode_cursor
from core.storage.ids import uuid7
from core.storage.models import users

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from core.gateway import Gateway

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{1,149}$")
STATUSES = ("active", "pending", "rejected", "inactive")


async def insert_user(
    gateway: Gateway,
    username: str,
    role: str,
    password_hash: str,
    *,
    status: str = "active",
    full_name: str | None = None,
    email: str | None = None,
    must_change_password: bool = False,
) -> uuid.UUID:
    """Insert a user row as given (no policy: see ``users.create_user``); returns its id."""
    if not await role_exists(gateway, role):
        raise ValueError(f"unknown role {role!r}")
    now = datetime.now(UTC)
    user_id = uuid7()
    async with gateway.db.transaction() as conn:
        await conn.execute(
            users.insert().values(
                id=user_id,
                username=username.strip().lower(),
                password_hash=password_hash,
                role=role,
                status=status,
                full_name=full_name,
                email=email,
                must_change_password=must_change_password,
                created_at=now,
                updated_at=now,
                password_changed_at=now,
            )
        )
    return user_id


def normalise_username(username: str) -> str:
    """The stored form of a username; raises ``Unprocessable`` when it cannot be one."""
    name = username.strip().lower()
    if not USERNAME.match(name):
        raise Unprocessable(
            "invalid username",
            errors=[
                {
                    "field": "username",
                    "message": "2-150 characters: letters, digits and . _ @ + - (starting with a letter or digit)",
                }
            ],
        )
    return name


def check_password(gateway: Gateway, password: str, username: str | None, field: str = "password") -> None:
    problems = password_problems(password, min_length=gateway.settings.auth.password_min_length, username=username)
    if problems:
        raise Unprocessable("the password is not acceptable", errors=[{"field": field, "message": p} for p in problems])


def user_view(row: Row[Any], *, now: datetime | None = None) -> dict[str, Any]:
    """A user as the API shows it: never the password hash."""
    now = now or datetime.now(UTC)
    locked = row.locked_until if row.locked_until is not None and row.locked_until > now else None
    return {
        "id": str(row.id),
        "username": row.username,
        "role": row.role,
        "status": row.status,
        "active": row.status == "active",
        "full_name": row.full_name,
        "email": row.email,
        "must_change_password": row.must_change_password,
        "locked_until": locked.isoformat() if locked else None,
        "last_login_at": row.last_login_at.isoformat() if row.last_login_at else None,
        "password_changed_at": row.password_changed_at.isoformat() if row.password_changed_at else None,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


async def create_user(
    gateway: Gateway,
    username: str,
    password: str,
    role: str,
    *,
    full_name: str | None = None,
    email: str | None = None,
    status: str = "active",
    must_change_password: bool = False,
) -> Row[Any]:
    """Create a user whose password passes the policy. ``Conflict`` if the name is taken."""
    name = normalise_username(username)
    if not await role_exists(gateway, role):
        raise await _invalid_role(gateway)
    check_password(gateway, password, name)
    password_hash = await gateway.auth.passwords.hash(password)
    try:
        user_id = await insert_user(
            gateway,
            name,
            role,
            password_hash,
            status=status,
            full_name=full_name,
            email=email,
            must_change_password=must_change_password,
        )
    except IntegrityError as err:
        raise Conflict(f"the username {name!r} is taken", errors=[{"field": "username", "message": "taken"}]) from err
    return await get_user(gateway, user_id)


def _parse_id(user_id: uuid.UUID | str) -> uuid.UUID:
    try:
        return user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(user_id)
    except ValueError as err:
        raise NotFound("no such user") from err


async def get_user(gateway: Gateway, user_id: uuid.UUID | str) -> Row[Any]:
    async with gateway.db.transaction() as conn:
        row = (await conn.execute(sa.select(users).where(users.c.id == _parse_id(user_id)))).first()
    if row is None:
        raise NotFound("no such user")
    return row


async def find_user(gateway: Gateway, username: str) -> Row[Any] | None:
    async with gateway.db.transaction() as conn:
        return (await conn.execute(sa.select(users).where(users.c.username == username.strip().lower()))).first()


async def list_users(
    gateway: Gateway,
    *,
    role: str | None = None,
    status: str | None = None,
    active: bool | None = None,
    search: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[Row[Any]], str | None]:
    """A page of users in creation order, and the cursor of the next page (None: last page)."""
    query = sa.select(users).order_by(users.c.id).limit(limit + 1)
    if role is not None:
        query = query.where(users.c.role == role)
    if status is not None:
        query = query.where(users.c.status == status)
    if active is not None:
        query = query.where(users.c.status == "active" if active else users.c.status != "active")
    if search:
        pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            sa.or_(
                users.c.username.like(pattern, escape="\\"),
                sa.func.lower(users.c.full_name).like(pattern, escape="\\"),
                sa.func.lower(users.c.email).like(pattern, escape="\\"),
            )
        )
    if cursor:
        query = query.where(users.c.id > decode_cursor(cursor))
    async with gateway.db.transaction() as conn:
        rows = (await conn.execute(query)).all()
    if len(rows) > limit:
        return rows[:limit], encode_cursor(rows[limit - 1].id)
    return rows, None


async def _ensure_not_last_admin(conn: AsyncConnection, user: Row[Any]) -> None:
    """Refuse a change that would leave no active admin (row locks on PostgreSQL serialise this)."""
    if user.role != "admin" or user.status != "active":
        return
    admins = (
        await conn.execute(
            sa.select(users.c.id).where(users.c.role == "admin", users.c.status == "active").with_for_update()
        )
    ).all()
    if all(a.id == user.id for a in admins):
        raise Conflict("this is the last active admin: make another user admin first")


async def update_user(gateway: Gateway, user_id: uuid.UUID | str, **changes: Any) -> tuple[Row[Any], Row[Any]]:
    """Change ``role``, ``full_name``, ``email``, ``status``, ``must_change_password``: ``(before, after)``.

    Deactivating (any status but active) ends the user's sessions in the same transaction.
    """
    uid = _parse_id(user_id)
    allowed = {"role", "full_name", "email", "status", "must_change_password"}
    if set(changes) - allowed:
        raise TypeError(f"cannot change {sorted(set(changes) - allowed)}")
    if "role" in changes and not await role_exists(gateway, changes["role"]):
        raise await _invalid_role(gateway)
    if "status" in changes and changes["status"] not in STATUSES:
        raise Unprocessable("invalid status", errors=[{"field": "status", "message": f"one of {', '.join(STATUSES)}"}])
    now = datetime.now(UTC)
    async with gateway.db.transaction() as conn:
        before = (await conn.execute(sa.select(users).where(users.c.id == uid))).first()
        if before is None:
            raise NotFound("no such user")
        demoted = changes.get("role", before.role) != "admin"
        deactivated = changes.get("status", before.status) != "active"
        if demoted or deactivated:
            await _ensure_not_last_admin(conn, before)
        if changes:
            await conn.execute(sa.update(users).where(users.c.id == uid).values(**changes, updated_at=now))
        if deactivated and before.status == "active":
            await end_user_sessions(conn, uid, now=now)
        after = (await conn.execute(sa.select(users).where(users.c.id == uid))).one()
    return before, after


async def set_password(
    gateway: Gateway,
    user_id: uuid.UUID | str,
    password: str,
    *,
    must_change: bool,
    keep_session: uuid.UUID | None = None,
) -> Row[Any]:
    """Set a new password (checked by the policy) and end the user's other sessions.

    ``must_change`` is for an admin's reset: the user must choose their own at next login.
    Any lock is lifted: whoever set the password knows it.
    """
    user = await get_user(gateway, user_id)
    check_password(gateway, password, user.username)
    password_hash = await gateway.auth.passwords.hash(password)
    now = datetime.now(UTC)
    async with gateway.db.transaction() as conn:
        await conn.execute(
            sa.update(users)
            .where(users.c.id == user.id)
            .values(
                password_hash=password_hash,
                must_change_password=must_change,
                password_changed_at=now,
                failed_logins=0,
                locked_until=None,
                updated_at=now,
            )
        )
        await end_user_sessions(conn, user.id, now=now, keep=keep_session)
    return await get_user(gateway, user.id)


async def unlock(gateway: Gateway, user_id: uuid.UUID | str) -> Row[Any]:
    """Lift a lockout now, rather than when it expires."""
    uid = _parse_id(user_id)
    async with gateway.db.transaction() as conn:
        result = await conn.execute(
            sa.update(users)
            .where(users.c.id == uid)
            .values(failed_logins=0, locked_until=None, updated_at=datetime.now(UTC))
        )
    if not result.rowcount:
        raise NotFound("no such user")
    return await get_user(gateway, uid)


async def _invalid_role(gateway: Gateway) -> Unprocessable:
    names = ", ".join([*gateway.roles.names(), *(r.name for r in await stored_roles(gateway))])
    return Unprocessable("invalid role", errors=[{"field": "role", "message": f"one of {names}"}])
