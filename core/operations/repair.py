"""Repairing deliveries: requeue, cancel, delete, purge — one or many, by filter.

Bulk operations work in chunks so that a purge of a million rows never holds one huge
transaction, and each changed delivery is enqueued only after its chunk is committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from core.errors import Conflict, NotFound, Unprocessable
from core.operations.filters import DeliveryFilters
from core.operations.records import delivery_conditions
from core.pipeline.queue.base import QueueItem
from core.pipeline.statuses import FINAL, REQUEUEABLE, WAITING, DeliveryStatus
from core.storage.models import deliveries

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from core.auth.permissions import Principal
    from core.gateway import Gateway

CHUNK = 2000


def _audit(gateway: Gateway, principal: Principal | None, action: str, detail: dict[str, Any]) -> None:
    gateway.audit.record(
        "admin",
        action=action,
        actor=principal.label if principal else None,
        actor_type=principal.kind if principal else "system",
        detail=detail,
    )


def _requeue_values(gateway: Gateway, now: datetime) -> dict[str, Any]:
    """A fresh budget: the destination's ``max_attempts`` on top of the attempts already made.

    The destination then sees the attempts of this budget only (``DeliveryInfo.attempt`` starts
    again at 1, ``previous_detail`` is ``None``) and one more ``requeues``, so that whatever it
    counts per delivery starts again too: a requeue always makes a new attempt.
    """
    default = gateway.settings.delivery.max_attempts
    own = {name: d.max_attempts for name, d in gateway.destinations.items() if d.max_attempts}
    budget: Any = sa.case(own, value=deliveries.c.destination, else_=default) if own else default
    return {
        "status": DeliveryStatus.QUEUED,
        "next_attempt_at": now,
        "lease_until": None,
        "updated_at": now,
        "budget_start": deliveries.c.attempt_count,
        "max_attempts": deliveries.c.attempt_count + budget,
        "requeues": deliveries.c.requeues + 1,
        "requeued_at": now,
    }


async def _requeue_rows(
    gateway: Gateway, conn: AsyncConnection, where: sa.ColumnElement[bool], statuses: Sequence[str]
) -> list[QueueItem]:
    """Requeue the deliveries ``where`` picks that are in one of ``statuses``: every requeue
    (one, many, the console's, a plugin's) goes through here."""
    rows = await conn.execute(
        sa.update(deliveries)
        .where(where, deliveries.c.status.in_(statuses))
        .values(**_requeue_values(gateway, datetime.now(UTC)))
        .returning(deliveries.c.id, deliveries.c.attempt_count, deliveries.c.destination)
    )
    return [QueueItem(r.id, r.attempt_count, r.destination) for r in rows]


async def requeue(gateway: Gateway, delivery_id: uuid.UUID, principal: Principal | None = None) -> dict[str, Any]:
    """Queue one delivery again now, with a fresh budget. Refused (409) while it runs or once delivered."""
    async with gateway.db.transaction() as conn:
        row = (await conn.execute(sa.select(deliveries.c.status).where(deliveries.c.id == delivery_id))).first()
        if row is None:
            raise NotFound("no such delivery")
        if row.status not in REQUEUEABLE:
            raise Conflict(f"a {row.status} delivery cannot be requeued")
        items = await _requeue_rows(gateway, conn, deliveries.c.id == delivery_id, REQUEUEABLE)
    if not items:
        raise Conflict("the delivery changed state meanwhile; try again")
    await _enqueue(gateway, items)
    _audit(gateway, principal, "requeue", {"delivery_id": str(delivery_id)})
    return {"id": str(delivery_id), "status": "queued"}


async def _enqueue(gateway: Gateway, items: list[QueueItem]) -> None:
    try:
        await gateway.queue.enqueue(items)
    except Exception:  # noqa: BLE001 - committed as queued: the sweeper enqueues them
        return


async def requeue_many(gateway: Gateway, f: DeliveryFilters, principal: Principal | None = None) -> int:
    """Requeue every delivery matching ``f`` (default: dead ones); returns how many."""
    statuses = f.status or [DeliveryStatus.DEAD]
    bad = [s for s in statuses if s not in REQUEUEABLE]
    if bad:
        raise Unprocessable(
            "only dead, cancelled, retrying, queued or pending deliveries can be requeued",
            errors=[{"field": "status", "message": f"cannot requeue {', '.join(bad)} deliveries"}],
        )
    f = f.model_copy(update={"status": statuses, "cursor": None})
    total = 0
    last: uuid.UUID | None = None
    while True:
        async with gateway.db.transaction() as conn:
            query = sa.select(deliveries.c.id).where(*delivery_conditions(f))
            if last is not None:
                query = query.where(deliveries.c.id > last)
            ids = [r.id for r in await conn.execute(query.order_by(deliveries.c.id).limit(CHUNK))]
            if not ids:
                break
            last = ids[-1]
            items = await _requeue_rows(gateway, conn, deliveries.c.id.in_(ids), statuses)
        await _enqueue(gateway, items)
        total += len(items)
    _audit(
        gateway, principal, "requeue_many", {"filters": f.model_dump(mode="json", exclude_none=True), "count": total}
    )
    return total


async def delete(gateway: Gateway, delivery_id: uuid.UUID, principal: Principal | None = None) -> None:
    """Delete one delivery and its attempts. Refused (409) while it runs."""
    async with gateway.db.transaction() as conn:
        row = (await conn.execute(sa.select(deliveries.c.status).where(deliveries.c.id == delivery_id))).first()
        if row is None:
            raise NotFound("no such delivery")
        if row.status == DeliveryStatus.RUNNING:
            raise Conflict("a running delivery cannot be deleted; try again when its attempt ends")
        await conn.execute(
            sa.delete(deliveries).where(deliveries.c.id == delivery_id, deliveries.c.status != DeliveryStatus.RUNNING)
        )
    _audit(gateway, principal, "delete", {"delivery_id": str(delivery_id)})


async def purge(gateway: Gateway, f: DeliveryFilters, principal: Principal | None = None) -> int:
    """Delete every finished delivery matching ``f``; ``status`` is required and must be final."""
    if not f.status:
        raise Unprocessable(
            "say which finished deliveries to purge",
            errors=[{"field": "status", "message": "required: one or more of delivered, dead, cancelled"}],
        )
    statuses = f.status
    bad = [s for s in statuses if s not in FINAL]
    if bad:
        raise Unprocessable(
            "only finished deliveries can be purged",
            errors=[{"field": "status", "message": f"cannot purge {', '.join(bad)} deliveries"}],
        )
    f = f.model_copy(update={"cursor": None})
    total = 0
    while True:
        async with gateway.db.transaction() as conn:
            ids = [
                r.id
                for r in await conn.execute(
                    sa.select(deliveries.c.id).where(*delivery_conditions(f)).order_by(deliveries.c.id).limit(CHUNK)
                )
            ]
            if not ids:
                break
            result = await conn.execute(
                sa.delete(deliveries).where(deliveries.c.id.in_(ids), deliveries.c.status.in_(statuses))
            )
            total += int(result.rowcount or 0)
    _audit(gateway, principal, "purge", {"filters": f.model_dump(mode="json", exclude_none=True), "count": total})
    return total


async def cancel_rows(
    conn: AsyncConnection, where: sa.ColumnElement[bool], *, reason: str | None = None
) -> list[uuid.UUID]:
    """Cancel the waiting deliveries ``where`` picks (``reason`` kept as their ``last_error``): every
    cancel (one, an erasure's) goes through here. Returns the ids cancelled."""
    values: dict[str, Any] = {"status": DeliveryStatus.CANCELLED, "next_attempt_at": None, "updated_at": datetime.now(UTC)}
    if reason is not None:
        values["last_error"] = reason
    rows = await conn.execute(
        sa.update(deliveries).where(where, deliveries.c.status.in_(WAITING)).values(**values).returning(deliveries.c.id)
    )
    return [r.id for r in rows]


async def cancel(gateway: Gateway, delivery_id: uuid.UUID, principal: Principal | None = None) -> dict[str, Any]:
    """Stop a waiting delivery from being attempted again."""
    async with gateway.db.transaction() as conn:
        if not await cancel_rows(conn, deliveries.c.id == delivery_id):
            exists = (await conn.execute(sa.select(deliveries.c.status).where(deliveries.c.id == delivery_id))).first()
            if exists is None:
                raise NotFound("no such delivery")
            raise Conflict(f"a {exists.status} delivery cannot be cancelled")
    _audit(gateway, principal, "cancel", {"delivery_id": str(delivery_id)})
    return {"id": str(delivery_id), "status": "cancelled"}
