"""What the public API lets a plugin do with user accounts: a compatibility layer's user routes.

The directory's own rules hold whoever asks (``core.auth.users``): unique lower-case usernames,
the password policy, never the last active admin demoted or deactivated, a deactivation ending
the user's sessions and keys. Users are answered as the core's ``/api/users`` shows them
(``id``, ``username``, ``role``, ``status``, ``active``, ``full_name``, ``email``, times), never
with a password hash.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from core.auth import users as directory
from core.errors import Unprocessable
from core.storage.models import users

if TYPE_CHECKING:
    from core.gateway import Gateway


def _check_profile(**fields: Any) -> None:
    """``Unprocessable`` for a name or e-mail longer than its column (PostgreSQL would refuse it with a 500)."""
    long = [name for name, value in fields.items() if isinstance(value, str) and len(value) > 255]
    if long:
        raise Unprocessable("too long", errors=[{"field": name, "message": "at most 255 characters"} for name in long])


async def find_users(
    gateway: Gateway,
    *,
    user_id: uuid.UUID | str | None = None,
    username: str | None = None,
    email: str | None = None,
    active: bool | None = None,
    roles: Collection[str] | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[dict[str, Any]], int]:
    """A page of users, newest first, matching every filter given; and how many match in all."""
    conditions: list[Any] = []
    if user_id is not None:
        try:
            conditions.append(users.c.id == (user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(user_id)))
        except ValueError:
            conditions.append(sa.false())  # not an id: no user has it
    if username is not None:
        conditions.append(users.c.username == username.strip().lower())
    if email is not None:
        conditions.append(users.c.email == email)
    if active is not None:
        conditions.append(users.c.status == "active" if active else users.c.status != "active")
    if roles is not None:
        conditions.append(users.c.role.in_(list(roles)))
    query = sa.select(users).where(*conditions).order_by(users.c.created_at.desc(), users.c.id.desc())
    async with gateway.db.transaction() as conn:
        total = int((await conn.execute(sa.select(sa.func.count()).select_from(users).where(*conditions))).scalar_one())
        rows = (await conn.execute(query.offset(max(0, offset)).limit(max(1, limit)))).all()
    return [directory.user_view(row) for row in rows], total


async def user_account(gateway: Gateway, user_id: uuid.UUID | str) -> dict[str, Any]:
    """One user (``NotFound``)."""
    return directory.user_view(await directory.get_user(gateway, user_id))


async def add_user(
    gateway: Gateway,
    username: str,
    password: str,
    role: str,
    *,
    full_name: str | None = None,
    email: str | None = None,
    active: bool = True,
) -> dict[str, Any]:
    """Create a user: ``Conflict`` when the name is taken, ``Unprocessable`` for a weak password, a bad
    role or a name or e-mail past 255 characters."""
    _check_profile(full_name=full_name, email=email)
    row = await directory.create_user(
        gateway, username, password, role, full_name=full_name, email=email, status="active" if active else "inactive"
    )
    return directory.user_view(row)


async def change_user(gateway: Gateway, user_id: uuid.UUID | str, **changes: Any) -> dict[str, Any]:
    """Change ``role``, ``full_name``, ``email`` or ``status`` (``NotFound``; ``Conflict`` for the last admin;
    ``Unprocessable`` for a bad role or status, or a name or e-mail past 255 characters)."""
    _check_profile(full_name=changes.get("full_name"), email=changes.get("email"))
    _, after = await directory.update_user(gateway, user_id, **changes)
    return directory.user_view(after)
