"""The delivery engine: claim a delivery, hand its message to the destination, record the attempt.

A claim is one conditional UPDATE, so two workers holding the same id (the sweeper and a
retried job, say) never both deliver. Every outcome is written in one transaction with its
attempt row and audit row.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa

from core.contracts import DeliveryInfo, DeliveryResult
from core.errors import DeliveryError
from core.messages import StandardMessage
from core.models import audit_log, deliveries, delivery_attempts, messages
from core.retry import excerpt, retry_schedule

if TYPE_CHECKING:
    from core.gateway import Gateway

log = logging.getLogger("switchboard.delivery")

STATUSES = ("pending", "queued", "running", "retrying", "delivered", "dead", "cancelled")
WAITING = ("pending", "queued", "retrying")
FINAL = ("delivered", "dead", "cancelled")
# A busy destination (all concurrency slots held) defers the job this long.
BUSY_DEFER = 1.0


class DestinationBusy(Exception):
    """All concurrency slots of the destination are held: try this delivery again shortly."""


@dataclass(frozen=True)
class Outcome:
    status: str
    attempt: int
    error: str | None = None


def message_from_row(row: Any) -> StandardMessage:
    return StandardMessage(
        id=row.id,
        platform=row.platform,
        external_id=row.external_id,
        kind=row.kind,
        direction=row.direction,
        sender=row.sender,
        sender_name=row.sender_name,
        recipient=row.recipient,
        text=row.text,
        media=list(row.media or []),
        timestamp=row.timestamp,
        raw=row.raw,
        extra=dict(row.extra or {}),
    )


def _claimable(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(
            deliveries.c.status.in_(WAITING),
            sa.or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now),
        ),
        sa.and_(deliveries.c.status == "running", deliveries.c.lease_until < now),
    )


async def perform(gateway: Gateway, delivery_id: uuid.UUID, *, worker: str = "") -> Outcome | None:
    """Make one attempt at delivery ``delivery_id`` if it is due; ``None`` when it is not ours to do."""
    settings = gateway.settings
    async with gateway.db.transaction() as conn:
        head = (
            await conn.execute(
                sa.select(deliveries.c.destination, deliveries.c.max_attempts).where(deliveries.c.id == delivery_id)
            )
        ).first()
    if head is None:
        return None
    destination = gateway.destinations.get(head.destination)
    limit = (destination.concurrency if destination else None) or settings.delivery.concurrency
    lease = float(settings.queue.job_timeout)
    token = await gateway.queue.acquire_slot(head.destination, limit, lease)
    if token is None:
        raise DestinationBusy(head.destination)
    try:
        return await _attempt(gateway, delivery_id, worker=worker, lease=lease)
    finally:
        await gateway.queue.release_slot(head.destination, token)


async def _attempt(gateway: Gateway, delivery_id: uuid.UUID, *, worker: str, lease: float) -> Outcome | None:
    now = datetime.now(UTC)
    async with gateway.db.transaction() as conn:
        claimed = (
            await conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == delivery_id, _claimable(now))
                .values(
                    status="running",
                    attempt_count=deliveries.c.attempt_count + 1,
                    lease_until=now + timedelta(seconds=lease),
                    updated_at=now,
                )
                .returning(
                    deliveries.c.attempt_count,
                    deliveries.c.max_attempts,
                    deliveries.c.destination,
                    deliveries.c.message_id,
                    deliveries.c.idempotency_key,
                    deliveries.c.created_at,
                    deliveries.c.options,
                    deliveries.c.detail,
                )
            )
        ).first()
        if claimed is None:
            return None
        row = (await conn.execute(sa.select(messages).where(messages.c.id == claimed.message_id))).first()
    assert row is not None  # deliveries cascade with their message
    message = message_from_row(row)
    info = DeliveryInfo(
        id=delivery_id,
        destination=claimed.destination,
        attempt=claimed.attempt_count,
        max_attempts=claimed.max_attempts,
        idempotency_key=claimed.idempotency_key,
        created_at=claimed.created_at,
        options=dict(claimed.options or {}),
        previous_detail=claimed.detail,
    )
    destination = gateway.destinations.get(claimed.destination)
    started = datetime.now(UTC)
    clock = time.perf_counter()
    result: DeliveryResult | None = None
    failure: DeliveryError | None = None
    if destination is None:
        failure = DeliveryError(
            f"destination {claimed.destination!r} is not configured (is its plugin enabled?)", retryable=False
        )
    else:
        try:
            result = await asyncio.wait_for(destination.deliver(message, info), timeout=lease * 0.9)
        except DeliveryError as err:
            failure = err
        except (TimeoutError, httpx.TimeoutException) as err:
            failure = DeliveryError(f"timed out: {type(err).__name__}", retryable=True)
        except httpx.TransportError as err:
            failure = DeliveryError(f"connection failed: {type(err).__name__}: {err}", retryable=True)
        except Exception as err:
            log.exception("destination %s raised unexpectedly on delivery %s", claimed.destination, delivery_id)
            failure = DeliveryError(f"destination error: {type(err).__name__}: {err}", retryable=True)
    duration_ms = (time.perf_counter() - clock) * 1000
    return await _record(gateway, info, destination, started, duration_ms, result, failure, worker)


async def _record(
    gateway: Gateway,
    info: DeliveryInfo,
    destination: Any,
    started: datetime,
    duration_ms: float,
    result: DeliveryResult | None,
    failure: DeliveryError | None,
    worker: str,
) -> Outcome:
    now = datetime.now(UTC)
    values: dict[str, Any] = {"lease_until": None, "updated_at": now}
    attempt: dict[str, Any] = {
        "delivery_id": info.id,
        "number": info.attempt,
        "started_at": started,
        "duration_ms": duration_ms,
        "worker": worker[:128] or None,
    }
    next_at: datetime | None = None
    if failure is None:
        assert result is not None
        values.update(
            status="delivered",
            delivered_at=now,
            remote_ref=result.remote_ref,
            detail=result.detail,
            last_status_code=result.status_code,
            last_error=None,
            next_attempt_at=None,
        )
        attempt.update(
            outcome="delivered", status_code=result.status_code, remote_ref=result.remote_ref, detail=result.detail
        )
    else:
        last = info.attempt >= info.max_attempts
        status = "retrying" if failure.retryable and not last else "dead"
        if status == "retrying":
            delay = (destination.retry_delay(info.attempt) if destination else None) or retry_schedule(
                info.attempt, gateway.settings.delivery
            )
            if failure.retry_after is not None:
                delay = min(max(delay, failure.retry_after), gateway.settings.delivery.backoff_max)
            next_at = now + timedelta(seconds=delay)
        error = str(failure)
        if failure.retryable and last:
            error = f"{error} (gave up after {info.attempt} attempts)"
        values.update(
            status=status,
            next_attempt_at=next_at,
            last_error=error,
            last_status_code=failure.status_code,
            detail=failure.detail,
        )
        response = (failure.detail or {}).get("response")
        attempt.update(
            outcome="retry" if status == "retrying" else "dead",
            status_code=failure.status_code,
            error=error,
            response_excerpt=excerpt(str(response)) if response is not None else None,
            detail=failure.detail,
        )
    async with gateway.db.transaction() as conn:
        updated = await conn.execute(
            sa.update(deliveries)
            .where(
                deliveries.c.id == info.id,
                deliveries.c.status == "running",
                deliveries.c.attempt_count == info.attempt,
            )
            .values(**values)
        )
        await conn.execute(delivery_attempts.insert(), [attempt])
        await conn.execute(
            audit_log.insert(),
            [
                gateway.audit.row(
                    "delivery",
                    action=attempt["outcome"],
                    actor=f"destination:{info.destination}",
                    actor_type="system",
                    status=attempt.get("status_code"),
                    duration_ms=duration_ms,
                    error=attempt.get("error"),
                    detail={"delivery_id": str(info.id), "attempt": info.attempt},
                )
            ],
        )
    if updated.rowcount == 0:
        # Someone requeued, cancelled or re-claimed it meanwhile: their state stands.
        log.warning(
            "delivery %s changed while attempt %d ran; outcome %s not applied",
            info.id,
            info.attempt,
            attempt["outcome"],
        )
    elif next_at is not None:
        try:
            await gateway.queue.enqueue([(info.id, info.attempt)], at=next_at)
        except Exception as err:  # noqa: BLE001 - the sweeper picks it up when due
            log.warning("could not schedule retry of %s (%s); the sweeper will", info.id, err)
    return Outcome(values["status"], info.attempt, values.get("last_error"))
