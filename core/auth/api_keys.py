"""API keys for systems and devices: created by an admin, shown once, listed, revoked, rotated."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from core.auth.credentials import hash_secret, new_api_key
from core.errors import Conflict, NotFound, Unprocessable
from core.storage.cursors import decode_cursor, encode_cursor
from core.storage.ids import uuid7
from core.storage.models import api_keys

if TYPE_CHECKING:
    from core.gateway import Gateway

# "messages:read", "dhis2:aggregate", "webhooks:whatsapp", or "*" (every scope).
SCOPE = re.compile(r"^(\*|[a-z0-9][a-z0-9_.-]*(:[a-z0-9_.*-]+)+)$")


async def insert_api_key(
    gateway: Gateway,
    name: str,
    scopes: Iterable[str],
    *,
    platform: str | None = None,
    created_by: uuid.UUID | None = None,
    expires_at: datetime | None = None,
    owner_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, str]:
    """Create a key; returns ``(id, key)``. The key itself is never stored."""
    key, prefix = new_api_key()
    key_id = uuid7()
    async with gateway.db.transaction() as conn:
        await conn.execute(
            api_keys.insert().values(
                id=key_id,
                name=name,
                prefix=prefix,
                key_hash=hash_secret(key),
                scopes=sorted(set(scopes)),
                platform=platform,
                created_by=created_by,
                owner_id=owner_id,
                created_at=datetime.now(UTC),
                expires_at=expires_at,
            )
        )
    return key_id, key


def check_key_request(
    gateway: Gateway, scopes: Iterable[str], platform: str | None, expires_at: datetime | None
) -> list[str]:
    """The scopes, deduplicated and sorted, once the whole request is found sound.

    A scope must be one some route declares (``requires(scopes=...)``), ``webhooks:<adapter>``
    or ``*``: a misspelt scope would make a key that can call nothing.
    """
    scopes = list(scopes)
    known_scope = known_scopes(gateway)
    errors: list[dict[str, str]] = []
    for s in scopes:
        if not SCOPE.match(s):
            message = f"{s!r} is not a scope (expected area:action, e.g. messages:read, or *)"
            errors.append({"field": "scopes", "message": message})
        elif known_scope is not None and s not in known_scope:
            errors.append({"field": "scopes", "message": f"unknown scope {s!r}: no route accepts it"})
    if platform is not None and platform not in gateway.adapters:
        known = ", ".join(sorted(gateway.adapters)) or "none enabled"
        errors.append({"field": "platform", "message": f"no adapter {platform!r} (adapters: {known})"})
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= datetime.now(UTC)):
        errors.append({"field": "expires_at", "message": "must be a future time with a time zone"})
    if errors:
        raise Unprocessable("invalid API key request", errors=errors)
    return sorted(set(scopes))


def known_scopes(gateway: Gateway) -> frozenset[str] | None:
    """The scopes a key may name: every route's, ``webhooks:<adapter>`` and ``*``.

    ``None`` before the app is built (a gateway without routes cannot tell; only the form is checked).
    """
    if gateway.route_scopes is None:
        return None
    return gateway.route_scopes | {f"webhooks:{name}" for name in gateway.adapters} | {"*"}


def key_view(gateway: Gateway, row: Row[Any]) -> dict[str, Any]:
    """A key as the API shows it: the prefix identifies it; the secret and its hash never appear."""
    count, last_used = row.usage_count, row.last_used_at
    pending = gateway.auth.key_usage.pending(row.id)
    if pending is not None:  # counted by this process, not written yet
        count += pending.count
        last_used = max(last_used, pending.last_used_at) if last_used else pending.last_used_at
    now = datetime.now(UTC)
    state = "revoked" if row.revoked_at else "expired" if row.expires_at and row.expires_at <= now else "active"
    return {
        "id": str(row.id),
        "name": row.name,
        "prefix": row.prefix,
        "scopes": list(row.scopes or []),
        "platform": row.platform,
        "state": state,
        "created_by": str(row.created_by) if row.created_by else None,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "last_used_at": last_used.isoformat() if last_used else None,
        "usage_count": count,
    }


async def create_key(
    gateway: Gateway,
    name: str,
    scopes: Iterable[str],
    *,
    platform: str | None = None,
    expires_at: datetime | None = None,
    created_by: uuid.UUID | None = None,
    owner_id: uuid.UUID | None = None,
) -> tuple[Row[Any], str]:
    """A new key: ``(row, key)``. The key is returned this once and stored only as a hash.

    ``owner_id``: the user the key acts for (see ``api_keys.owner_id``); ``None`` for a system's key.
    """
    scopes = check_key_request(gateway, list(scopes), platform, expires_at)
    key_id, key = await insert_api_key(
        gateway, name, scopes, platform=platform, created_by=created_by, expires_at=expires_at, owner_id=owner_id
    )
    return await get_key(gateway, key_id), key


def _parse_id(key_id: uuid.UUID | str) -> uuid.UUID:
    try:
        return key_id if isinstance(key_id, uuid.UUID) else uuid.UUID(key_id)
    except ValueError as err:
        raise NotFound("no such API key") from err


async def get_key(gateway: Gateway, key_id: uuid.UUID | str) -> Row[Any]:
    async with gateway.db.transaction() as conn:
        row = (await conn.execute(sa.select(api_keys).where(api_keys.c.id == _parse_id(key_id)))).first()
    if row is None:
        raise NotFound("no such API key")
    return row


async def list_keys(
    gateway: Gateway, *, include_revoked: bool = False, limit: int = 50, cursor: str | None = None
) -> tuple[Sequence[Row[Any]], str | None]:
    query = sa.select(api_keys).order_by(api_keys.c.id).limit(limit + 1)
    if not include_revoked:
        query = query.where(api_keys.c.revoked_at.is_(None))
    if cursor:
        query = query.where(api_keys.c.id > decode_cursor(cursor))
    async with gateway.db.transaction() as conn:
        rows = (await conn.execute(query)).all()
    if len(rows) > limit:
        return rows[:limit], encode_cursor(rows[limit - 1].id)
    return rows, None


async def revoke_key(gateway: Gateway, key_id: uuid.UUID | str, *, at: datetime | None = None) -> Row[Any]:
    """Revoke a key: refused from the next request on (or from ``at``, for a rotation's grace)."""
    row = await get_key(gateway, key_id)
    if row.revoked_at is not None:
        raise Conflict("this API key is already revoked")
    now = datetime.now(UTC)
    values: dict[str, Any] = {"revoked_at": now} if at is None or at <= now else {}
    if at is not None and at > now:
        # A grace period: the old key keeps working until it expires.
        values["expires_at"] = min(at, row.expires_at) if row.expires_at else at
    async with gateway.db.transaction() as conn:
        await conn.execute(sa.update(api_keys).where(api_keys.c.id == row.id).values(**values))
    return await get_key(gateway, row.id)


async def rotate_key(
    gateway: Gateway, key_id: uuid.UUID | str, *, grace_seconds: int, created_by: uuid.UUID | None
) -> tuple[Row[Any], Row[Any], str]:
    """Replace a key with a new one of the same name, scopes, platform and expiry.

    The old key stops now, or after ``grace_seconds`` so devices can be switched over.
    Returns ``(old row, new row, new key)``.
    """
    old = await get_key(gateway, key_id)
    if old.revoked_at is not None:
        raise Conflict("this API key is revoked: create a new one")
    now = datetime.now(UTC)
    if old.expires_at is not None and old.expires_at <= now:
        raise Conflict("this API key has expired: create a new one")
    new_id, key = await insert_api_key(
        gateway,
        old.name,
        old.scopes,
        platform=old.platform,
        created_by=created_by,
        expires_at=old.expires_at,
        owner_id=old.owner_id,  # a user's key stays theirs
    )
    old = await revoke_key(gateway, old.id, at=now + timedelta(seconds=grace_seconds) if grace_seconds else None)
    return old, await get_key(gateway, new_id), key


# The public API (``from core import create_api_key, …``): keys a plugin issues for the systems
# and devices it serves, ordinary keys in every other way (revocation, last use, rate limits, audit).


async def create_api_key(
    gateway: Gateway,
    name: str,
    scopes: Iterable[str],
    *,
    platform: str | None = None,
    expires_at: datetime | None = None,
    created_by: uuid.UUID | None = None,
) -> tuple[uuid.UUID, str]:
    """Issue an API key: ``(key id, key)``. Show the key once; only its hash is stored.

    ``platform`` binds it to an adapter (it then passes ``webhooks:<platform>``); unknown scopes
    and a past ``expires_at`` are refused with ``Unprocessable``.
    """
    row, key = await create_key(gateway, name, scopes, platform=platform, expires_at=expires_at, created_by=created_by)
    return row.id, key


async def revoke_api_key(gateway: Gateway, key_id: uuid.UUID) -> None:
    """Refuse the key from the next request on; a key revoked already stays as it is."""
    try:
        await revoke_key(gateway, key_id)
    except Conflict:
        return


async def rotate_api_key(
    gateway: Gateway, key_id: uuid.UUID, *, grace_seconds: int = 0, created_by: uuid.UUID | None = None
) -> tuple[uuid.UUID, str, datetime | None]:
    """Replace a key: ``(new id, new key, when the old key stops)`` (now, or after the grace)."""
    old, new, key = await rotate_key(gateway, key_id, grace_seconds=grace_seconds, created_by=created_by)
    stops: datetime | None = old.revoked_at or old.expires_at
    return new.id, key, stops
