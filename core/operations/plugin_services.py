"""What the public API lets a plugin do with core records: the deliveries it submitted, and
API keys it issues on a user's behalf (a compatibility layer's tokens).

Thin, audited wrappers over ``repair`` and ``api_keys``, so plugins never touch core tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from core.auth.api_keys import create_key
from core.errors import Forbidden, NotFound
from core.operations import repair
from core.storage.models import api_keys, deliveries, messages, users

MESSAGE_DELIVERY_FIELDS = (
    "id",
    "destination",
    "status",
    "attempt_count",
    "max_attempts",
    "last_error",
    "remote_ref",
    "created_at",
    "delivered_at",
)

if TYPE_CHECKING:
    from core.auth.permissions import Principal
    from core.gateway import Gateway


async def requeue_delivery(
    gateway: Gateway, delivery_id: uuid.UUID, principal: Principal | None = None
) -> dict[str, Any]:
    """Queue a delivery again now (``NotFound``; ``Conflict`` while it runs or once delivered)."""
    return await repair.requeue(gateway, delivery_id, principal)


async def delete_delivery(gateway: Gateway, delivery_id: uuid.UUID, principal: Principal | None = None) -> None:
    """Delete a delivery and its attempts (``NotFound``; ``Conflict`` while it runs)."""
    await repair.delete(gateway, delivery_id, principal)


async def delivery_states(gateway: Gateway, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """The state of each existing delivery among ``ids``: status, errors, detail, times, and
    the message's ``raw`` body (what was submitted for it)."""
    wanted = list(dict.fromkeys(ids))
    found: dict[uuid.UUID, dict[str, Any]] = {}
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        query = (
            sa.select(
                deliveries.c.id,
                deliveries.c.status,
                deliveries.c.attempt_count,
                deliveries.c.last_error,
                deliveries.c.last_status_code,
                deliveries.c.detail,
                deliveries.c.updated_at,
                deliveries.c.delivered_at,
                messages.c.raw,
            )
            .join(messages, messages.c.id == deliveries.c.message_id)
            .where(deliveries.c.id.in_(chunk))
        )
        async with gateway.db.transaction() as conn:
            for row in await conn.execute(query):
                found[row.id] = dict(row._mapping)
    return found


async def message_deliveries(
    gateway: Gateway, message_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The deliveries of each of ``message_ids`` (those with none are absent), oldest first: ``id``,
    ``destination``, ``status``, ``attempt_count``, ``max_attempts``, ``last_error``, ``remote_ref``,
    ``created_at``, ``delivered_at`` (what a plugin's page shows beside its own records)."""
    wanted = list(dict.fromkeys(message_ids))
    columns = [deliveries.c[name] for name in MESSAGE_DELIVERY_FIELDS]
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        query = (
            sa.select(deliveries.c.message_id, *columns)
            .where(deliveries.c.message_id.in_(chunk))
            .order_by(deliveries.c.message_id, deliveries.c.id)
        )
        async with gateway.db.transaction() as conn:
            for row in await conn.execute(query):
                found.setdefault(row.message_id, []).append({n: row._mapping[n] for n in MESSAGE_DELIVERY_FIELDS})
    return found


async def user_keys(gateway: Gateway, user_id: uuid.UUID, name: str) -> Sequence[Any]:
    """A user's unrevoked API keys of this name (issued by ``issue_user_key``), newest first
    (``id``, ``prefix``, ``expires_at``, ``scopes``)."""
    query = (
        sa.select(api_keys.c.id, api_keys.c.prefix, api_keys.c.expires_at, api_keys.c.scopes)
        .where(api_keys.c.owner_id == user_id, api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
        .order_by(api_keys.c.id.desc())
    )
    async with gateway.db.transaction() as conn:
        return (await conn.execute(query)).all()


async def issue_user_key(
    gateway: Gateway,
    user_id: uuid.UUID,
    name: str,
    scopes: Iterable[str],
    *,
    expires_at: datetime | None,
    caller: Principal | None = None,
) -> str:
    """Revoke the user's keys named ``name`` and create a new one for them; returns the key.

    The key acts for the user (its owner): it is refused once they are deactivated or removed,
    and reaches no further than their role at each use. ``NotFound`` when the user does not
    exist or is not active. The key is returned this once.

    ``caller``, the principal asking for the key, bounds it: a key holds no more than its caller.
    An API key caller must act for ``user_id`` (``Forbidden`` otherwise, a system key included);
    its scopes narrow ``scopes`` and its expiry caps ``expires_at``.
    """
    now = datetime.now(UTC)
    wanted = set(scopes)
    if caller is not None and caller.kind != "user":
        if caller.kind != "api_key" or caller.extra.get("owner") != str(user_id):
            raise Forbidden("only a user, or a key issued to that user, may ask for a user's key")
        wanted = wanted if "*" in caller.scopes else wanted & caller.scopes
        caller_expiry: datetime | None = caller.extra.get("expires_at")
        if caller_expiry is not None and (expires_at is None or caller_expiry < expires_at):
            expires_at = caller_expiry
    if not wanted:
        raise Forbidden("the caller holds none of the scopes asked for")
    async with gateway.db.transaction() as conn:
        user = (await conn.execute(sa.select(users.c.status).where(users.c.id == user_id))).first()
        if user is None or user.status != "active":
            raise NotFound("User not found")
        await conn.execute(
            sa.update(api_keys)
            .where(api_keys.c.owner_id == user_id, api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    _, key = await create_key(gateway, name, wanted, expires_at=expires_at, created_by=user_id, owner_id=user_id)
    gateway.audit.record(
        "auth", action="api_key_issued", actor=f"user:{user_id}", actor_type="user", detail={"name": name}
    )
    return key
