"""Storing messages: dedupe, conversations, the message rows and their deliveries (the outbox).

Requests hand their messages to one ``Ingestor`` per process, which writes whatever has
accumulated in one transaction (group commit): on PostgreSQL one statement per batch however
many requests it holds (``core.pipeline.ingest_store``), and every request waits for its own commit
before it is answered.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.messages import StandardMessage
from core.metrics import metrics
from core.pipeline import stored_hooks
from core.pipeline.batching import GroupCommit
from core.pipeline.ingest_store import CONFLICTS, Candidate, Plan, StoreResult, make_store
from core.pipeline.queue.base import QueueItem
from core.pipeline.routing import Router
from core.pipeline.statuses import DeliveryStatus
from core.pipeline.stored_hooks import Stored
from core.storage.ids import uuid7
from core.storage.storable import storable_text

if TYPE_CHECKING:
    from core.gateway import Gateway

log = logging.getLogger("switchboard.ingest")
MAX_BATCH = 500
# Batches written at once. One: while it is written the next batch gathers, and a bigger
# batch costs less per message on both sides. At a fixed 1,000 req/s (bench/ingest.py, six
# runs each): with one, 710-735 ms of the gateway's CPU per second and 373-407 ms of
# PostgreSQL's; with two, 757-805 and 459-582 ms, the same p99 (15-49 ms either way on a
# busy 2-core machine) and three to four times the run-queue waits. Maximum ingest: the same.
IN_FLIGHT = 1
# How long a submitter waits for its batch's switchboard_messages_stored hooks (see submit).
HOOKS_WAIT = 10.0
# How long messages whose hooks have run wait for a batch to mark them so before a statement of
# their own does.
DONE_FLUSH = 1.0


@dataclass
class Submission:
    messages: list[StandardMessage]
    destinations: list[str] | None
    options: dict[str, Any]
    audit: dict[str, Any] | None
    # The batch's ``switchboard_messages_stored`` hooks, which the submitter waits for.
    hooks: asyncio.Task[None] | None = None


class Ingestor:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.router = Router(gateway)
        self._notify = bool(gateway.plugins.pm.hook.switchboard_messages_stored.get_hookimpls())
        self._commits: GroupCommit[Submission, list[Stored]] = GroupCommit(
            self._write_batch, max_batch=MAX_BATCH, in_flight=IN_FLIGHT, name="ingest"
        )
        self._store = make_store(gateway.db, IN_FLIGHT)
        self._metrics = metrics()
        # After the commit, a batch's ``switchboard_messages_stored`` hooks run, then its
        # deliveries are enqueued. Submitters wait for the hooks, not for the enqueue: what a
        # hook records (an e-mail's thread, a case's turn) is in place before the sender is
        # answered and before any of the batch's deliveries runs, so a reply the sender makes
        # next, or a delivery of the batch, finds it. Enqueues of batches committed meanwhile
        # go to the queue together (one Redis round trip).
        self._after: set[asyncio.Task[None]] = set()
        self._enqueues: GroupCommit[list[QueueItem], None] = GroupCommit(self._enqueue, name="enqueue")
        # Messages whose hooks have run: their message_hooks_pending rows are deleted by the next
        # batch's statement (no statement, no commit of their own), or after DONE_FLUSH seconds
        # when no batch comes (core.pipeline.stored_hooks).
        self._done: list[uuid.UUID] = []
        self._done_timer: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await self._commits.close()
        while self._after:
            await asyncio.gather(*self._after, return_exceptions=True)
        await self._enqueues.close()
        if self._done_timer is not None:
            self._done_timer.cancel()
        await self._flush_done()
        await self._store.close()

    async def submit(
        self,
        items: Sequence[StandardMessage],
        *,
        destinations: Sequence[str] | None = None,
        options: dict[str, Any] | None = None,
        audit: dict[str, Any] | None = None,
    ) -> list[Stored]:
        """Store messages and their deliveries; returns once committed.

        ``destinations`` replaces routing (direct submissions and replies); ``options`` are
        stored on each delivery for its destination; ``audit`` is a row (``AuditLog.row``)
        written in the same transaction.
        """
        if not items and audit is None:
            return []
        submission = Submission(list(items), _names(destinations), options or {}, audit)
        results = await self._commits.submit(submission)
        if submission.hooks is not None:
            # Shielded: a caller that goes away (a closed connection), or stops waiting, does not
            # cut the hooks short. A hook stuck behind a lock does not hold the platform's webhook
            # past HOOKS_WAIT (the platform would time out and send it again): it goes on, and the
            # batch's deliveries are queued after it.
            try:
                await asyncio.wait_for(asyncio.shield(submission.hooks), HOOKS_WAIT)
            except TimeoutError:
                log.warning(
                    "switchboard_messages_stored hooks still running after %.0f s; answering without them", HOOKS_WAIT
                )
        return results

    async def _write_batch(self, batch: list[Submission]) -> list[list[Stored]]:
        results, to_enqueue = await self._commit_with_retry(batch)
        fresh = [
            (m, s)
            for sub, result in zip(batch, results, strict=True)
            for m, s in zip(sub.messages, result, strict=True)
            if not s.duplicate
        ]
        if fresh:
            by_platform: dict[str, int] = {}
            for m, _ in fresh:
                by_platform[m.platform] = by_platform.get(m.platform, 0) + 1
            for platform, count in by_platform.items():
                self._metrics.ingest(platform, count)
        hooks = self._background(self._stored_hooks(fresh)) if fresh and self._notify else None
        if hooks is not None:
            for sub, result in zip(batch, results, strict=True):
                if any(not s.duplicate for s in result):
                    sub.hooks = hooks
        if to_enqueue:
            self._background(self._enqueue_after(hooks, to_enqueue))
        return results

    def _background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._after.add(task)
        task.add_done_callback(self._after.discard)
        return task

    async def _stored_hooks(self, fresh: list[tuple[StandardMessage, Stored]]) -> None:
        failed = await stored_hooks.run_stored_hooks(self.gateway, fresh)
        ids = [s.message_id for _, s in fresh]
        if failed:
            # Pending for the plugins whose hook raised: the sweeper runs theirs again later.
            try:
                await stored_hooks.retry_later(self.gateway.db, ids, failed)
            except Exception as err:  # noqa: BLE001 - left pending for every plugin: run again all the same
                log.warning("could not keep %d messages pending for %s (%s)", len(ids), ", ".join(failed), err)
            return
        self._done += ids
        if self._done_timer is None:
            self._done_timer = asyncio.get_running_loop().call_later(DONE_FLUSH, self._done_due)

    def _done_due(self) -> None:
        self._done_timer = None
        if self._done:  # no batch has taken them meanwhile
            self._background(self._flush_done())

    async def _flush_done(self) -> None:
        done, self._done = self._done, []
        if not done:
            return
        try:
            await stored_hooks.mark_done(self.gateway.db, done)
        except Exception as err:  # noqa: BLE001 - the sweeper runs their hooks once more: at least once
            log.warning("could not mark %d messages' hooks as run (%s)", len(done), err)

    async def _enqueue_after(self, hooks: asyncio.Task[None] | None, to_enqueue: list[QueueItem]) -> None:
        if hooks is not None:
            await asyncio.wait([hooks])
        try:
            await self._enqueues.submit(to_enqueue)
        except Exception as err:  # noqa: BLE001 - committed already; the sweeper enqueues later
            log.warning("enqueue of %d deliveries failed (%s); the sweeper will pick them up", len(to_enqueue), err)

    async def _enqueue(self, batches: list[list[QueueItem]]) -> list[None]:
        await self.gateway.queue.enqueue([item for items in batches for item in items])
        return [None] * len(batches)

    async def _commit_with_retry(self, batch: list[Submission]) -> tuple[list[list[Stored]], list[QueueItem]]:
        plan, routed, places = self._plan(batch)
        plan.hooks_done, self._done = self._done, []
        try:
            for attempt in range(3):
                try:
                    outcome = await self._store.store(plan)
                    break
                except CONFLICTS:
                    # Another process stored one of these messages or opened one of these
                    # conversations at the same moment: run the plan again against what it stored.
                    if attempt == 2:
                        raise
        except BaseException:
            self._done[:0] = plan.hooks_done  # not written: the next batch (or the flush) takes them
            raise
        return self._results(batch, plan, routed, places, outcome)

    def _plan(self, batch: list[Submission]) -> tuple[Plan, list[list[str]], list[list[int]]]:
        """What to store: each message once, a candidate conversation per participant, the
        deliveries of every message (the store keeps those of new messages only).

        Also returns each planned message's destinations, and where each submitted message is
        in the plan: its position, or ``-1 - position`` for a repeat of a message before it.
        """
        now = datetime.now(UTC)
        message_rows: list[dict[str, Any]] = []
        participants: list[str | None] = []
        latest: dict[tuple[str, str], datetime] = {}
        delivery_rows: list[dict[str, Any]] = []
        owners: list[int] = []
        routed: list[list[str]] = []
        places: list[list[int]] = []
        position_of: dict[tuple[str, str], int] = {}
        max_default = self.gateway.settings.delivery.max_attempts
        for sub in batch:
            where: list[int] = []
            places.append(where)
            for m in sub.messages:
                # A message's and a conversation's keys as stored (core.storage.storable), since
                # the store matches them against stored rows.
                key = (storable_text(m.platform), storable_text(m.external_id))
                position = position_of.get(key)
                if position is not None:
                    where.append(-1 - position)
                    continue
                position = position_of[key] = len(message_rows)
                where.append(position)
                m.id = m.id or uuid7()
                message_rows.append(_message_row(m, key, now))
                participant = storable_text(m.conversation_key) if m.conversation_key else None
                participants.append(participant)
                if participant:
                    conv = (key[0], participant)
                    latest[conv] = max(latest.get(conv, m.timestamp), m.timestamp)
                names = sub.destinations if sub.destinations is not None else self.router.destinations_for(m)
                routed.append(names)
                for name in names:
                    dest = self.gateway.destinations.get(name)
                    delivery_id = uuid7()
                    owners.append(position)
                    delivery_rows.append(
                        {
                            "id": delivery_id,
                            "message_id": m.id,
                            "destination": name,
                            "platform": m.platform,
                            "status": DeliveryStatus.QUEUED,
                            "attempt_count": 0,
                            "max_attempts": (dest.max_attempts if dest else None) or max_default,
                            "next_attempt_at": now,
                            "options": sub.options,
                            "idempotency_key": delivery_id.hex,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
        plan = Plan(
            now=now,
            idle=timedelta(seconds=self.gateway.settings.conversations.idle_timeout),
            messages=message_rows,
            participants=participants,
            conversations=[Candidate(uuid7(), platform, who, ts) for (platform, who), ts in sorted(latest.items())],
            deliveries=delivery_rows,
            owners=owners,
            audit=[sub.audit for sub in batch if sub.audit is not None],
            hooks=self._notify,
        )
        return plan, routed, places

    def _results(
        self,
        batch: list[Submission],
        plan: Plan,
        routed: list[list[str]],
        places: list[list[int]],
        outcome: StoreResult,
    ) -> tuple[list[list[Stored]], list[QueueItem]]:
        duplicates = outcome.duplicates
        deliveries_of: dict[int, list[uuid.UUID]] = {}
        to_enqueue: list[QueueItem] = []
        for row, owner in zip(plan.deliveries, plan.owners, strict=True):
            if owner not in duplicates:
                deliveries_of.setdefault(owner, []).append(row["id"])
                to_enqueue.append(QueueItem(row["id"], 0, row["destination"]))
        opened = set(outcome.opened)  # the first new message of an opened conversation opened it
        planned: list[Stored] = []
        for position, row in enumerate(plan.messages):
            existing = duplicates.get(position)
            if existing is not None:
                planned.append(Stored(existing, True))  # a duplicate is the message stored under that id
                continue
            conversation = outcome.conversations.get(position)
            first = conversation is not None and conversation in opened
            if first:
                opened.discard(conversation)
            planned.append(
                Stored(row["id"], False, conversation, first, deliveries_of.get(position, []), routed[position])
            )
        results: list[list[Stored]] = []
        for sub, where in zip(batch, places, strict=True):
            out = []
            for m, position in zip(sub.messages, where, strict=True):
                if position >= 0:
                    stored = planned[position]
                else:  # a repeat of a message earlier in this batch
                    stored = Stored(planned[-1 - position].message_id, True)
                m.id = stored.message_id
                out.append(stored)
            results.append(out)
        return results, to_enqueue


def _names(destinations: Sequence[str] | None) -> list[str] | None:
    return list(dict.fromkeys(destinations)) if destinations is not None else None


def _message_row(m: StandardMessage, key: tuple[str, str], now: datetime) -> dict[str, Any]:
    return {
        "id": m.id,
        "platform": key[0],
        "external_id": key[1],
        "direction": m.direction,
        "kind": m.kind,
        "sender": m.sender,
        "sender_name": m.sender_name,
        "recipient": m.recipient,
        "text": m.text,
        "media": m.media,
        "timestamp": m.timestamp,
        "raw": m.raw,
        "extra": m.extra,
        "received_at": now,
    }
