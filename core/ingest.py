"""Storing messages: dedupe, conversations, the message rows and their deliveries (the outbox).

Requests hand their messages to one ``Ingestor`` per process, which writes whatever has
accumulated in one transaction (group commit): a few round trips per batch however many
requests it holds, and every request waits for its own commit before it is answered.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.batching import GroupCommit
from core.ids import uuid7
from core.ingest_store import CONFLICTS, Batch, IngestStore, OpenConversation, store_for
from core.messages import StandardMessage
from core.queue.base import QueueItem
from core.routing import Router

if TYPE_CHECKING:
    from core.gateway import Gateway

log = logging.getLogger("switchboard.ingest")
MAX_BATCH = 500
_KEYS_PER_QUERY = 400  # bound IN-lists (SQLite allows 32,766 variables; PostgreSQL 65,535)


@dataclass
class Stored:
    """What became of one submitted message."""

    message_id: uuid.UUID
    duplicate: bool
    conversation_id: uuid.UUID | None = None
    conversation_opened: bool = False
    delivery_ids: list[uuid.UUID] = field(default_factory=list)
    destinations: list[str] = field(default_factory=list)


@dataclass
class Submission:
    messages: list[StandardMessage]
    destinations: list[str] | None
    options: dict[str, Any]
    audit: dict[str, Any] | None


class Ingestor:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.router = Router(gateway)
        self._notify = bool(gateway.plugins.pm.hook.switchboard_messages_stored.get_hookimpls())
        self._commits: GroupCommit[Submission, list[Stored]] = GroupCommit(
            self._write_batch, max_batch=MAX_BATCH, in_flight=2, name="ingest"
        )
        # Enqueueing and notifications run after the commit, off the request path.
        self._after: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await self._commits.close()
        while self._after:
            await asyncio.gather(*self._after, return_exceptions=True)

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
        return await self._commits.submit(Submission(list(items), _names(destinations), options or {}, audit))

    async def _write_batch(self, batch: list[Submission]) -> list[list[Stored]]:
        results, to_enqueue = await self._commit_with_retry(batch)
        fresh = [
            (m, s)
            for sub, result in zip(batch, results, strict=True)
            for m, s in zip(sub.messages, result, strict=True)
            if not s.duplicate
        ]
        if to_enqueue or (fresh and self._notify):
            task = asyncio.create_task(self._after_commit(to_enqueue, fresh))
            self._after.add(task)
            task.add_done_callback(self._after.discard)
        return results

    async def _after_commit(self, to_enqueue: list[QueueItem], fresh: list[tuple[StandardMessage, Stored]]) -> None:
        if to_enqueue:
            try:
                await self.gateway.queue.enqueue(to_enqueue)
            except Exception as err:  # noqa: BLE001 - committed already; the sweeper enqueues later
                log.warning("enqueue of %d deliveries failed (%s); the sweeper will pick them up", len(to_enqueue), err)
        if fresh and self._notify:
            try:
                await self.gateway.plugins.notify("switchboard_messages_stored", stored=fresh, gateway=self.gateway)
            except Exception:
                log.exception("a switchboard_messages_stored hook failed")

    async def _commit_with_retry(self, batch: list[Submission]) -> tuple[list[list[Stored]], list[QueueItem]]:
        for attempt in range(3):
            try:
                async with self.gateway.db.transaction() as conn:
                    return await self._write(await store_for(conn), batch)
            except CONFLICTS:
                # Another process stored one of these messages or opened one of these
                # conversations between our lookup and our write: look up again.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _write(self, store: IngestStore, batch: list[Submission]) -> tuple[list[list[Stored]], list[QueueItem]]:
        now = datetime.now(UTC)
        message_keys = {(m.platform, m.external_id) for sub in batch for m in sub.messages}
        conversation_keys = {
            (m.platform, m.conversation_key) for sub in batch for m in sub.messages if m.conversation_key
        }
        found, open_now = await store.lookup(sorted(message_keys), sorted(conversation_keys))
        seen: dict[tuple[str, str], uuid.UUID] = dict(found)
        new: list[tuple[Submission, StandardMessage]] = []
        for sub in batch:
            for m in sub.messages:
                key = (m.platform, m.external_id)
                if key not in seen:
                    m.id = m.id or uuid7()
                    seen[key] = m.id
                    new.append((sub, m))
        conv_ids, opened, to_open, to_touch = await self._conversations(store, open_now, [m for _, m in new], now)

        message_rows: list[dict[str, Any]] = []
        delivery_rows: list[dict[str, Any]] = []
        new_ids: dict[uuid.UUID, Stored] = {}
        max_default = self.gateway.settings.delivery.max_attempts
        for sub, m in new:
            conv_key = (m.platform, m.conversation_key or "")
            conv = conv_ids.get(conv_key)
            message_rows.append(_message_row(m, conv, now))
            names = sub.destinations if sub.destinations is not None else self.router.destinations_for(m)
            # The first message of a newly opened conversation is the one that opened it.
            first = conv_key in opened
            opened.discard(conv_key)
            stored = Stored(m.id, False, conv, first, [], names)  # type: ignore[arg-type]
            for name in names:
                dest = self.gateway.destinations.get(name)
                delivery_id = uuid7()
                stored.delivery_ids.append(delivery_id)
                delivery_rows.append(
                    {
                        "id": delivery_id,
                        "message_id": m.id,
                        "destination": name,
                        "platform": m.platform,
                        "status": "queued",
                        "attempt_count": 0,
                        "max_attempts": (dest.max_attempts if dest else None) or max_default,
                        "next_attempt_at": now,
                        "options": sub.options,
                        "idempotency_key": delivery_id.hex,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            new_ids[m.id] = stored  # type: ignore[index]
        audit_rows = [sub.audit for sub in batch if sub.audit is not None]
        await store.write(Batch(to_open, to_touch, message_rows, delivery_rows, audit_rows))

        results: list[list[Stored]] = []
        for sub in batch:
            out = []
            for m in sub.messages:
                key = (m.platform, m.external_id)
                mid = seen[key]
                stored = new_ids.get(mid)
                if stored is not None and stored.message_id == m.id:
                    out.append(stored)
                else:
                    out.append(Stored(mid, True))
            results.append(out)
        return results, [QueueItem(row["id"], 0, row["destination"]) for row in delivery_rows]

    async def _conversations(
        self,
        store: IngestStore,
        open_conversations: list[OpenConversation],
        items: list[StandardMessage],
        now: datetime,
    ) -> tuple[
        dict[tuple[str, str], uuid.UUID],
        set[tuple[str, str]],
        list[dict[str, Any]],
        list[tuple[uuid.UUID, datetime, int]],
    ]:
        """Get or open the conversation of every (platform, participant); close idle ones.

        Returns the conversation id of each key, the keys whose conversation opens now, the
        rows to insert and the conversations to move forward. Idle ones are closed at once.
        """
        latest: dict[tuple[str, str], tuple[datetime, int]] = {}
        for m in items:
            if m.conversation_key:
                key = (m.platform, m.conversation_key)
                ts, count = latest.get(key, (m.timestamp, 0))
                latest[key] = (max(ts, m.timestamp), count + 1)
        if not latest:
            return {}, set(), [], []
        open_now = {(c.platform, c.participant): c for c in open_conversations}
        idle = timedelta(seconds=self.gateway.settings.conversations.idle_timeout)
        result: dict[tuple[str, str], uuid.UUID] = {}
        to_close: list[uuid.UUID] = []
        to_open: list[dict[str, Any]] = []
        to_touch: list[tuple[uuid.UUID, datetime, int]] = []
        for key, (ts, count) in latest.items():
            current = open_now.get(key)
            if current is not None and max(now, ts) - current.last_message_at <= idle:
                result[key] = current.id
                to_touch.append((current.id, max(ts, current.last_message_at), count))
                continue
            if current is not None:
                to_close.append(current.id)
            cid = uuid7()
            result[key] = cid
            to_open.append(
                {
                    "id": cid,
                    "platform": key[0],
                    "participant": key[1],
                    "status": "open",
                    "opened_at": now,
                    "last_message_at": ts,
                    "message_count": count,
                    "state": {},
                }
            )
        if to_close:
            await store.close_conversations(to_close, now)
        return result, {(row["platform"], row["participant"]) for row in to_open}, to_open, to_touch


def _names(destinations: Sequence[str] | None) -> list[str] | None:
    return list(dict.fromkeys(destinations)) if destinations is not None else None


def _message_row(m: StandardMessage, conversation_id: uuid.UUID | None, now: datetime) -> dict[str, Any]:
    return {
        "id": m.id,
        "platform": m.platform,
        "external_id": m.external_id,
        "direction": m.direction,
        "kind": m.kind,
        "sender": m.sender,
        "sender_name": m.sender_name,
        "recipient": m.recipient,
        "text": m.text,
        "media": m.media,
        "timestamp": m.timestamp,
        "conversation_id": conversation_id,
        "raw": m.raw,
        "extra": m.extra,
        "received_at": now,
    }
