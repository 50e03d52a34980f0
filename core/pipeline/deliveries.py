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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import aiohttp
import httpx
import sqlalchemy as sa

from core.config.logging import traceback_of
from core.contracts import DeliveryResult, Destination
from core.errors import DeliveryError
from core.metrics import metrics
from core.pipeline.batching import GroupCommit
from core.pipeline.breaker import Breaker, Gate, State, Verdict
from core.pipeline.delivery_store import Claim, DeliveryStore, Record, make_delivery_store
from core.pipeline.exchanges import Exchange, ExchangeRedactor, capture, stored
from core.pipeline.queue.base import QueueItem
from core.pipeline.retry import RETRYABLE_STATUS, excerpt, retry_schedule
from core.pipeline.statuses import DeliveryStatus
from core.pipeline.sweeper import release_backlog
from core.storage.models import deliveries

if TYPE_CHECKING:
    from core.gateway import Gateway

log = logging.getLogger("switchboard.delivery")

# A destination whose slots are all held elsewhere: try this delivery again this much later.
BUSY_DEFER = 1.0


class DestinationBusy(Exception):
    """All concurrency slots of the destination are held: try this delivery again shortly."""


@dataclass(frozen=True)
class AttemptOutcome:
    status: str
    attempt: int
    error: str | None = None


class DeliveryEngine:
    """Runs attempts in one process: concurrency limits, batched claims, batched outcomes."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.lease = float(gateway.settings.queue.job_timeout)
        self.store: DeliveryStore = make_delivery_store(gateway.db)
        self.breaker = Breaker(gateway)
        audit = gateway.settings.audit
        self.exchanges = ExchangeRedactor(gateway.audit.redact, audit.max_payload_bytes)
        self._local: dict[str, asyncio.Semaphore] = {}
        self._claims: GroupCommit[uuid.UUID, Claim | None] = GroupCommit(self._claim_batch, in_flight=2, name="claims")
        self._records: GroupCommit[Record, None] = GroupCommit(self._record_batch, in_flight=2, name="outcomes")

    async def close(self) -> None:
        await self._claims.close()
        await self._records.close()
        await self.store.close()

    def _limit(self, name: str) -> int:
        destination = self.gateway.destinations.get(name)
        return (destination.concurrency if destination else None) or self.gateway.settings.delivery.concurrency

    async def run(self, delivery_id: uuid.UUID, destination: str, *, worker: str = "") -> AttemptOutcome | None:
        """Make one attempt at the delivery if it is due; ``None`` when it is not ours to do.

        ``None`` too, without claiming it, while the destination's breaker holds its deliveries
        back (the sweeper hands them out again once it is closed). Raises ``DestinationBusy`` when
        other processes hold every slot of the destination.
        """
        gate = await self.breaker.gate(destination)
        if gate is Gate.WAIT:
            return None
        probe = gate is Gate.PROBE
        record: Record | None = None
        try:
            limit = self._limit(destination)
            # The local semaphore queues this process's attempts without touching Redis; the
            # queue's slot then holds the limit across every process.
            local = self._local.setdefault(destination, asyncio.Semaphore(limit))
            async with local:
                # An attempt of this process may have tripped the breaker while this one waited
                # for its turn: it then starts nothing (the probe goes on, it is the exception).
                if not probe and not await self.breaker.closed(destination):
                    return None
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
                # Judged before the next attempt waiting here gets its turn, so that the attempt
                # that trips the breaker is this process's last until the probe.
                await self._judge(destination, record, probe)
        finally:
            if probe and record is None:
                await self.breaker.release_probe(destination)
        assert record is not None
        if record.retry_at is not None:
            try:
                await self.gateway.queue.enqueue(
                    [QueueItem(claim.info.id, claim.number, claim.info.destination)], at=record.retry_at
                )
            except Exception as err:  # noqa: BLE001 - the sweeper picks it up when due
                log.warning("could not schedule retry of %s (%s); the sweeper will", claim.info.id, err)
        return AttemptOutcome(record.values["b_status"], claim.number, record.values["b_last_error"])

    async def _judge(self, destination: str, record: Record, probe: bool) -> None:
        """Tell the destination's breaker how the attempt went; release its backlog if it resumed."""
        if record.verdict == "success" and not probe and self.breaker.quiet(destination):
            return  # the hot path: a healthy destination, nothing to write
        try:
            changed = await self.breaker.record(
                destination, Verdict(record.verdict), probe=probe, error=record.values["b_last_error"]
            )
            if changed is State.CLOSED:
                await release_backlog(self.gateway, destination)
        except Exception:  # the attempt is recorded; the breaker catches up on the next one
            log.exception("could not update the breaker of destination %s", destination)

    async def _claim_batch(self, ids: list[uuid.UUID]) -> list[Claim | None]:
        now = datetime.now(UTC)
        return await self.store.claim(ids, now, now + timedelta(seconds=self.lease))

    async def _record_batch(self, records: list[Record]) -> list[None]:
        await self.store.record(records)
        return [None] * len(records)

    async def _attempt(self, claim: Claim, worker: str) -> Record:
        info = claim.info
        destination = self.gateway.destinations.get(info.destination)
        started = datetime.now(UTC)
        clock = time.perf_counter()
        result: DeliveryResult | None = None
        failure: DeliveryError | None = None
        exchanges: list[Exchange] = []
        if destination is None:
            failure = _CoreFailure(
                f"destination {info.destination!r} is not configured (is its plugin enabled?)",
                loggable="destination not configured",
                retryable=False,
            )
        else:
            try:
                # asyncio.timeout, not wait_for: no task per attempt.
                with capture() as exchanges:
                    async with asyncio.timeout(self.lease * 0.9):
                        result = await destination.deliver(claim.message, info)
            except DeliveryError as err:
                failure = err
            except (TimeoutError, httpx.TimeoutException) as err:
                reason = f"timed out: {type(err).__name__}"
                failure = _CoreFailure(reason, loggable=reason, retryable=True)
            except httpx.TransportError as err:
                reason = f"connection failed: {type(err).__name__}"
                failure = _CoreFailure(f"{reason}: {err}", loggable=reason, retryable=True)
            except Exception as err:
                # Its type and traceback, not its message: that may hold the message's values.
                log.error(
                    "destination %s raised unexpectedly on delivery %s: %s",
                    info.destination,
                    info.id,
                    traceback_of(err),
                )
                reason = f"destination error: {type(err).__name__}"
                failure = _CoreFailure(f"{reason}: {err}", loggable=reason, retryable=True)
        duration_ms = (time.perf_counter() - clock) * 1000
        record = self._record(claim, destination, started, duration_ms, result, failure, worker)
        record.attempt["request"], record.attempt["response"] = stored(exchanges, self.exchanges)
        return record

    def _record(
        self,
        claim: Claim,
        destination: Destination | None,
        started: datetime,
        duration_ms: float,
        result: DeliveryResult | None,
        failure: DeliveryError | None,
        worker: str,
    ) -> Record:
        # ``info.attempt`` counts within the current budget (it restarts on a requeue): it judges
        # the budget and the backoff; ``number`` counts over the delivery's life: it names the row.
        info, number = claim.info, claim.number
        now = datetime.now(UTC)
        retry_at: datetime | None = None
        if failure is None:
            assert result is not None
            status, error, code, detail = DeliveryStatus.DELIVERED, None, result.status_code, result.detail
            outcome = "delivered"
        else:
            last = info.attempt >= info.max_attempts
            status = DeliveryStatus.RETRYING if failure.retryable and not last else DeliveryStatus.DEAD
            if status == DeliveryStatus.RETRYING:
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
            outcome = "retry" if status == DeliveryStatus.RETRYING else "dead"
            # One line per failed attempt for operators. Not the error's message: a destination's
            # may quote the far side's answer, which can echo the message (numbers, names, text).
            # The message is on the attempt (GET /api/deliveries/{id}), where access is controlled.
            reason = _loggable(failure)
            log.warning(
                "delivery %s to %s failed on attempt %d (%s): %s",
                info.id,
                info.destination,
                number,
                f"retry at {retry_at:%Y-%m-%dT%H:%M:%SZ}" if retry_at else "dead",
                reason,
                extra={  # fields of their own with log_format = "json"
                    "delivery_id": str(info.id),
                    "destination": info.destination,
                    "attempt": number,
                    "outcome": outcome,
                    "retry_at": retry_at.isoformat() if retry_at else None,
                    "error": reason,
                    "status_code": failure.status_code,
                },
            )
        metrics().attempt(info.destination, outcome, duration_ms / 1000)
        verdict = "success" if failure is None else "failure" if unhealthy(failure) else "neutral"
        remote_ref = result.remote_ref if result else None
        response = (detail or {}).get("response") if failure else None
        return Record(
            info=info,
            values={
                "b_id": info.id,
                "b_attempt": number,
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
                "number": number,
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
                detail={"delivery_id": str(info.id), "attempt": number},
            ),
            retry_at=retry_at,
            verdict=verdict,
        )


# What says the far side could not be reached or did not answer in time, whichever client a
# destination uses (httpx, aiohttp, a raw socket).
UNREACHABLE: tuple[type[BaseException], ...] = (
    TimeoutError,
    ConnectionError,
    httpx.TransportError,
    aiohttp.ClientConnectionError,
)


def unhealthy(failure: DeliveryError) -> bool:
    """Whether a failed attempt says the destination is failing (for its breaker).

    A 5xx, 408, 425 or 429 answer, a timeout, a connection error or an unexpected exception
    does, whichever plugin reports it and whatever ``retry_after`` or ``detail`` it adds. A
    refused item (a 4xx: bad data) does not, nor does a retry a destination asks for without
    an answer or a network failure behind it (an update waiting for its case's create, a
    remote job still running).
    """
    if not failure.retryable:
        return False
    if failure.status_code is not None:
        return failure.status_code in RETRYABLE_STATUS or failure.status_code >= 500
    if caused_by(failure, UNREACHABLE):
        return True
    # A wait the destination chose carries its own retry_after (or a detail to resume from).
    return failure.retry_after is None and failure.detail is None


def caused_by(err: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether ``err`` was raised from, or while handling, an exception of one of ``kinds``.

    A destination that catches ``httpx.ConnectError`` and raises ``DeliveryError`` in its
    ``except`` block chains the two (``from err``, or implicitly): the core reads the chain.
    """
    seen: set[int] = set()
    pending = [err.__cause__, err.__context__]
    while pending:
        cause = pending.pop()
        if cause is None or id(cause) in seen:
            continue
        if isinstance(cause, kinds):
            return True
        seen.add(id(cause))
        pending += [cause.__cause__, cause.__context__]
    return False


async def perform(gateway: Gateway, delivery_id: uuid.UUID, *, worker: str = "") -> AttemptOutcome | None:
    """One attempt at ``delivery_id`` if it is due (looks up its destination first)."""
    async with gateway.db.transaction() as conn:
        name = (
            await conn.execute(sa.select(deliveries.c.destination).where(deliveries.c.id == delivery_id))
        ).scalar_one_or_none()
    if name is None:
        return None
    return await gateway.deliveries.run(delivery_id, name, worker=worker)


class _CoreFailure(DeliveryError):
    """A failure the core describes itself: ``loggable`` is its message without the far side's words."""

    def __init__(self, message: str, *, loggable: str, retryable: bool) -> None:
        super().__init__(message, retryable=retryable)
        self.loggable = loggable


def _loggable(failure: DeliveryError) -> str:
    """What a log line says of a failed attempt: the HTTP status or the core's own words, never the message."""
    if isinstance(failure, _CoreFailure):
        return failure.loggable
    kind = "retryable" if failure.retryable else "permanent"
    if failure.status_code is not None:
        return f"HTTP {failure.status_code}, {kind}; the error is on the attempt"
    return f"{kind} failure; the error is on the attempt"
