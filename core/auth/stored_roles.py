"""Roles an admin defines at run time (``roles`` table): the console's roles page and ``/api/roles``.

They sit beside the built-in roles and those of ``[auth.roles]``, which they may not shadow. Their
permissions are read with the user on every request (``STORED_PERMISSIONS``, joined by
``with_role``), so a change applies at once in every process, as a change of a user's role does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from core.auth.roles import ROLE_NAME, Role
from core.errors import Conflict, NotFound, Unprocessable
from core.storage.models import roles, users

if TYPE_CHECKING:
    from core.gateway import Gateway

# Select it beside ``users`` columns, from ``with_role(...)``: the stored role's permissions, or NULL.
STORED_PERMISSIONS = roles.c.permissions.label("stored_permissions")


def with_role(joined: Any) -> Any:
    """``joined`` (``users`` or a join holding it) outer-joined to the user's stored role."""
    return joined.outerjoin(roles, roles.c.name == users.c.role)


def _role(row: Any) -> Role:
    return Role(row.name, frozenset(row.permissions or []), row.description or "", builtin=False)


async def stored_roles(gateway: Gateway) -> list[Role]:
    """The roles defined at run time, by name."""
    async with gateway.db.transaction() as conn:
        rows = (await conn.execute(sa.select(roles).order_by(roles.c.name))).all()
    return [_role(r) for r in rows]


async def role_exists(gateway: Gateway, name: str) -> bool:
    """Whether a user may be given ``name``: a built-in or configured role, or one defined at run time."""
    if name in gateway.roles:
        return True
    async with gateway.db.transaction() as conn:
        return (await conn.execute(sa.select(roles.c.name).where(roles.c.name == name))).first() is not None


def _checked(gateway: Gateway, name: str, permissions: Iterable[str]) -> list[str]:
    errors = []
    if not ROLE_NAME.match(name):
        errors.append(
            {"field": "name", "message": "lower-case letters, digits, '-' or '_', at most 20, a letter first"}
        )
    wanted = list(dict.fromkeys(permissions))
    unknown = [p for p in wanted if p not in gateway.roles.permissions]
    if unknown:
        errors.append({"field": "permissions", "message": f"unknown: {', '.join(unknown)}"})
    elif not wanted:
        errors.append({"field": "permissions", "message": "choose at least one"})
    if errors:
        raise Unprocessable("invalid role", errors=errors)
    if name in gateway.roles:
        raise Conflict(
            f"{name} is a built-in or configured role: change it in the configuration",
            errors=[{"field": "name", "message": "taken"}],
        )
    return [p for p in gateway.roles.permissions if p in wanted]  # in the catalogue's order


async def define_role(
    gateway: Gateway, name: str, permissions: Iterable[str], description: str = ""
) -> tuple[Role | None, Role]:
    """Create role ``name``, or replace its permissions and description: (before or None, after).

    ``Unprocessable`` for a bad name or an unknown permission, ``Conflict`` for the name of a
    built-in or configured role.
    """
    ordered = _checked(gateway, name, permissions)
    now = datetime.now(UTC)
    async with gateway.db.transaction() as conn:
        row = (await conn.execute(sa.select(roles).where(roles.c.name == name).with_for_update())).first()
        values = {"permissions": ordered, "description": description.strip(), "updated_at": now}
        if row is None:
            await conn.execute(roles.insert().values(name=name, created_at=now, **values))
        else:
            await conn.execute(roles.update().where(roles.c.name == name).values(**values))
    return (_role(row) if row is not None else None), Role(name, frozenset(ordered), description.strip(), False)


async def delete_role(gateway: Gateway, name: str) -> Role:
    """Remove a role defined at run time; ``Conflict`` while a user holds it, ``NotFound`` if none."""
    async with gateway.db.transaction() as conn:
        row = (await conn.execute(sa.select(roles).where(roles.c.name == name).with_for_update())).first()
        if row is None:
            raise NotFound("Role not found")
        holders = (await conn.execute(sa.select(sa.func.count()).where(users.c.role == name))).scalar_one()
        if holders:
            raise Conflict(f"{holders} user(s) have the role {name}: give them another first")
        await conn.execute(roles.delete().where(roles.c.name == name))
    return _role(row)


def role_view(gateway: Gateway, role: Role) -> dict[str, Any]:
    """A role as the API shows it: its permissions in the catalogue's order."""
    return {
        "name": role.name,
        "builtin": role.builtin,
        "description": role.description,
        "permissions": [p for p in gateway.roles.permissions if p in role.permissions],
    }
