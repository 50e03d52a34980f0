"""The delivery engine: claim a delivery, hand its message to the destination, record the attempt.

A claim is a conditional UPDATE, so two workers holding the same id (the sweeper and a retried
job, say) never both deliver. Claims and outcomes of concurrent attempts in one process are
grouped into one transaction each (group commit); every outcome is written with its attempt
row and audit row.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa

from core.contracts import DeliveryInfo, DeliveryResult, Destination
from core.errors import DeliveryError
from core.messages import StandardMessage
from core.pipeline import delivery_store
from core.pipeline.batching import GroupCommit
from core.pipeline.queue.base import QueueItem
from core.pipeline.retry import excerpt, retry_schedule
from core.storage.db import pg_uuid
from core.storage.models import audit_log, deliveries, delivery_attempts, messages

if TYPE_CHECKING:
    from core.gateway import Gateway

log = logging.getLogger("switchboard.delivery")

STATUSES = ("pending", "queued", "running", "retrying", "delivered", "dead", "cancelled")
WAITING = ("pending", "queued", "retrying")
FINAL = ("delivered", "dead", "cancelled")
# A destination whose slots are all held elsewhere: try this delivery again this much later.
BUSY_DEFER = 1.0


class DestinationBusy(Exception):
    """All concurrency slots of the destination are held: try this delivery again shortly."""


@dataclass(frozen=True)
class Outcome:
    status: str
    attempt: int
    error: str | None = None


@dataclass(frozen=True)
class Claim:
    info: DeliveryInfo
    message: StandardMessage


@dataclass
class Record:
    """What one attempt came to, ready to be written."""

    info: DeliveryInfo
    values: dict[str, Any]
    attempt: dict[str, Any]
    audit: dict[str, Any]
    retry_at: datetime | None


def message_from_row(row: Mapping[str, Any]) -> StandardMessage:
    """A stored message from its row's columns (a SQLAlchemy row mapping or an asyncpg record)."""
    return StandardMessage(
        id=pg_uuid(row["id"]),
        platform=row["platform"],
        external_id=row["external_id"],
        kind=row["kind"],
        direction=row["direction"],
        sender=row["sender"],
        sender_name=row["sender_name"],
        recipient=row["recipient"],
        text=row["text"],
        media=list(row["media"] or []),
        timestamp=row["timestamp"],
        raw=row["raw"],
        extra=dict(row["extra"] or {}),
    )


def claim_from_rows(delivery: Mapping[Any, Any], message: Mapping[Any, Any]) -> Claim:
    """A claimed delivery from its columns as the claim returned them, and its message's row."""
    return Claim(
        DeliveryInfo(
            id=pg_uuid(delivery["delivery_id"]),
            destination=delivery["destination"],
            attempt=delivery["attempt_count"],
            max_attempts=delivery["max_attempts"],
            idempotency_key=delivery["idempotency_key"],
            created_at=delivery["created_at"],
            options=dict(delivery["options"] or {}),
            previous_detail=delivery["detail"],
        ),
        message_from_row(message),
    )


def claimable(now: datetime) -> sa.ColumnElement[bool]:
    """Due and waiting, or running under a lease that has run out (its worker died)."""
    return sa.or_(
        sa.and_(
            deliveries.c.status.in_(WAITING),
            sa.or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now),
        ),
        sa.and_(deliveries.c.status == "running", deliveries.c.lease_until < now),
    )


def claim_statement(ids: list[uuid.UUID], now: datetime, lease_until: datetime) -> sa.Update:
    """The claim of these deliveries, where they are due, everywhere but PostgreSQL
    (``delivery_store.claim``): found by key, then checked."""
    return (
        sa.update(deliveries)
        .where(deliveries.c.id.in_(ids), claimable(now))
        .values(status="running", attempt_count=deliveries.c.attempt_count + 1, lease_until=lease_until, updated_at=now)
        .returning(*delivery_store.CLAIMED)
    )


_RECORD = (
    sa.update(deliveries)
    .where(
        deliveries.c.id == sa.bindparam("b_id"),
        deliveries.c.status == "running",
        # A stale attempt (its lease ran out and another worker re-claimed) changes nothing.
        deliveries.c.attempt_count == sa.bindparam("b_attempt"),
    )
    .values(
        status=sa.bindparam("b_status"),
        next_attempt_at=sa.bindparam("b_next_attempt_at"),
        lease_until=None,
        last_error=sa.bindparam("b_last_error"),
        last_status_code=sa.bindparam("b_last_status_code"),
        detail=sa.bindparam("b_detail", type_=deliveries.c.detail.type),
        remote_ref=sa.func.coalesce(sa.bindparam("b_remote_ref", type_=sa.String), deliveries.c.remote_ref),
        delivered_at=sa.func.coalesce(
            sa.bindparam("b_delivered_at", type_=deliveries.c.delivered_at.type), deliveries.c.delivered_at
        ),
        updated_at=sa.bindparam("b_updated_at"),
    )
)


class DeliveryEngine:
    """Runs attempts in one process: concurrency limits, batched claims, batched outcomes."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.lease = float(gateway.settings.queue.job_timeout)
        self._local: dict[str, asyncio.Semaphore] = {}
        self._claims: GroupCommit[uuid.UUID, Claim | None] = GroupCommit(self._claim_batch, in_flight=2, name="claims")
        self._records: GroupCommit[Record, None] = GroupCommit(self._record_batch, in_flight=2, name="outcomes")

    async def close(self) -> None:
        await self._claims.close()
        await self._records.close()

    def _limit(self, name: str) -> int:
        destination = self.gateway.destinations.get(name)
        return (destination.concurrency if destination else None) or self.gateway.settings.delivery.concurrency

    async def run(self, delivery_id: uuid.UUID, destination: str, *, worker: str = "") -> Outcome | None:
        """Make one attempt at the delivery if it is due; ``None`` when it is not ours to do.

        Raises ``DestinationBusy`` when other processes hold every slot of the destination.
        """
        limit = self._limit(destination)
        # The local semaphore queues this process's attempts without touching Redis; the
        # queue's slot then holds the limit across every process.
        local = self._local.setdefault(destination, asyncio.Semaphore(limit))
        async with local:
            token = await self.gateway.queue.acquire_slot(destination, limit, self.lease)
            if token is None:
                raise DestinationBusy(destination)
            try:
                claim = await self._claims.submit(delivery_id)
                if claim is None:
                    return None
                record = await self._attempt(claim, worker)
                await self._records.submit(record)
            finally:
                await self.gateway.queue.release_slot(destination, token)
        if record.retry_at is not None:
            try:
                await self.gateway.queue.enqueue(
                    [QueueItem(claim.info.id, claim.info.attempt, claim.info.destination)], at=record.retry_at
                )
            except Exception as err:  # noqa: BLE001 - the sweeper picks it up when due
                log.warning("could not schedule retry of %s (%s); the sweeper will", claim.info.id, err)
        return Outcome(record.values["b_status"], claim.info.attempt, record.values["b_last_error"])

    async def _claim_batch(self, ids: list[uuid.UUID]) -> list[Claim | None]:
        now = datetime.now(UTC)
        if self.gateway.db.dialect == "postgresql":
            async with self.gateway.db.engine.connect() as pg:
                raw = (await pg.get_raw_connection()).driver_connection
                rows = await delivery_store.claim(raw, ids, now, now + timedelta(seconds=self.lease))
            # One record per claim: the delivery's columns, then its message's under their own names.
            by_id = {c.info.id: c for c in (claim_from_rows(r, r) for r in rows)}
            return [by_id.get(i) for i in ids]
        async with self.gateway.db.transaction() as conn:
            claimed = (await conn.execute(claim_statement(ids, now, now + timedelta(seconds=self.lease)))).all()
            message_rows = {}
            if claimed:
                found = await conn.execute(
                    sa.select(messages).where(messages.c.id.in_({r.message_id for r in claimed}))
                )
                message_rows = {m.id: m._mapping for m in found}
        claims = {r.delivery_id: claim_from_rows(r._mapping, message_rows[r.message_id]) for r in claimed}
        return [claims.get(i) for i in ids]

    async def _attempt(self, claim: Claim, worker: str) -> Record:
        info = claim.info
        destination = self.gateway.destinations.get(info.destination)
        started = datetime.now(UTC)
        clock = time.perf_counter()
        result: DeliveryResult | None = None
        failure: DeliveryError | None = None
        if destination is None:
            failure = DeliveryError(
                f"destination {info.destination!r} is not configured (is its plugin enabled?)", retryable=False
            )
        else:
            try:
                # asyncio.timeout, not wait_for: no task per attempt.
                async with asyncio.timeout(self.lease * 0.9):
                    result = await destination.deliver(claim.message, info)
            except DeliveryError as err:
                failure = err
            except (TimeoutError, httpx.TimeoutException) as err:
                failure = DeliveryError(f"timed out: {type(err).__name__}", retryable=True)
            except httpx.TransportError as err:
                failure = DeliveryError(f"connection failed: {type(err).__name__}: {err}", retryable=True)
            except Exception as err:
                log.exception("destination %s raised unexpectedly on delivery %s", info.destination, info.id)
                failure = DeliveryError(f"destination error: {type(err).__name__}: {err}", retryable=True)
        duration_ms = (time.perf_counter() - clock) * 1000
        return self._record(info, destination, started, duration_ms, result, failure, worker)

    def _record(
        self,
        info: DeliveryInfo,
        destination: Destination | None,
        started: datetime,
        duration_ms: float,
        result: DeliveryResult | None,
        failure: DeliveryError | None,
        worker: str,
    ) -> Record:
        now = datetime.now(UTC)
        retry_at: datetime | None = None
        if failure is None:
            assert result is not None
            status, error, code, detail = "delivered", None, result.status_code, result.detail
            outcome = "delivered"
        else:
            last = info.attempt >= info.max_attempts
            status = "retrying" if failure.retryable and not last else "dead"
            if status == "retrying":
                delay = (destination.retry_delay(info.attempt) if destination else None) or retry_schedule(
                    info.attempt, self.gateway.settings.delivery
                )
                if failure.retry_after is not None:
                    delay = min(max(delay, failure.retry_after), self.gateway.settings.delivery.backoff_max)
                retry_at = now + timedelta(seconds=delay)
            error = str(failure)
            if failure.retryable and last:
                error = f"{error} (gave up after {info.attempt} attempts)"
            code, detail = failure.status_code, failure.detail
            outcome = "retry" if status == "retrying" else "dead"
        remote_ref = result.remote_ref if result else None
        response = (detail or {}).get("response") if failure else None
        return Record(
            info=info,
            values={
                "b_id": info.id,
                "b_attempt": info.attempt,
                "b_status": status,
                "b_next_attempt_at": retry_at,
                "b_last_error": error,
                "b_last_status_code": code,
                "b_detail": detail,
                "b_remote_ref": remote_ref,
                "b_delivered_at": now if failure is None else None,
                "b_updated_at": now,
            },
            attempt={
                "delivery_id": info.id,
                "number": info.attempt,
                "started_at": started,
                "duration_ms": duration_ms,
                "outcome": outcome,
                "status_code": code,
                "error": error,
                "response_excerpt": excerpt(str(response)) if response is not None else None,
                "remote_ref": remote_ref,
                "detail": detail,
                "worker": worker[:128] or None,
            },
            audit=self.gateway.audit.row(
                "delivery",
                action=outcome,
                actor=f"destination:{info.destination}",
                actor_type="system",
                status=code,
                duration_ms=duration_ms,
                error=error,
                detail={"delivery_id": str(info.id), "attempt": info.attempt},
            ),
            retry_at=retry_at,
        )

    async def _record_batch(self, records: list[Record]) -> list[None]:
        if self.gateway.db.dialect == "postgresql":
            async with self.gateway.db.engine.connect() as pg:
                raw = (await pg.get_raw_connection()).driver_connection
                await delivery_store.record(
                    raw, [r.values for r in records], [r.attempt for r in records], [r.audit for r in records]
                )
            return [None] * len(records)
        async with self.gateway.db.transaction() as conn:
            await conn.execute(_RECORD, [r.values for r in records])
            await conn.execute(delivery_attempts.insert(), [r.attempt for r in records])
            await conn.execute(audit_log.insert(), [r.audit for r in records])
        return [None] * len(records)


async def perform(gateway: Gateway, delivery_id: uuid.UUID, *, worker: str = "") -> Outcome | None:
    """One attempt at ``delivery_id`` if it is due (looks up its destination first)."""
    async with gateway.db.transaction() as conn:
        name = (
            await conn.execute(sa.select(deliveries.c.destination).where(deliveries.c.id == delivery_id))
        ).scalar_one_or_none()
    if name is None:
        return None
    return await gateway.deliveries.run(delivery_id, name, worker=worker)
