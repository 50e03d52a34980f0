"""Plugins' ``switchboard_messages_stored`` hooks: run at least once for every new message.

The ingestor runs a batch's hooks after its commit, before its submitters are answered and
before its deliveries are queued (``core.pipeline.ingest``). While any plugin has the hook,
each new message gets a ``message_hooks_pending`` row in its ingest transaction, deleted once
its hooks have run: by the next batch's statement (the ingestor keeps the ids meanwhile), or by
``mark_done`` when no batch comes within a second, so the mark costs no statement of its own
under load. A process stopped in between (a crash, a kill, a lost database connection) leaves them pending,
and the platform's retry of the webhook is a duplicate, whose hooks do not run: ``run_pending``,
called by the sweeper, runs the hooks of messages pending for longer than ``PENDING_GRACE``
(a batch still running elsewhere is younger than that).

What a hook records must therefore bear being recorded twice (an opt-out, an e-mail thread):
a process stopped after a hook did its work but before the mark is written runs it again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from core.messages import StandardMessage
from core.pipeline.delivery_store import message_from_row
from core.storage.db import Database, among
from core.storage.models import conversations, deliveries, message_hooks_pending, messages

if TYPE_CHECKING:
    from core.gateway import Gateway

log = logging.getLogger("switchboard.ingest")

# How long a message may stay pending before the sweeper takes its hooks as lost: longer than
# any batch's hooks take (a submitter stops waiting for them after 10 s).
PENDING_GRACE = 60.0
BATCH = 500
_CHUNK = 1000


@dataclass
class Stored:
    """What became of one submitted message."""

    message_id: uuid.UUID
    duplicate: bool
    conversation_id: uuid.UUID | None = None
    conversation_opened: bool = False
    delivery_ids: list[uuid.UUID] = field(default_factory=list)
    destinations: list[str] = field(default_factory=list)


async def run_stored_hooks(gateway: Gateway, stored: Sequence[tuple[StandardMessage, Stored]]) -> None:
    """Call every plugin's ``switchboard_messages_stored`` hook; a failure is logged, not raised."""
    try:
        await gateway.plugins.notify("switchboard_messages_stored", stored=stored, gateway=gateway)
    except Exception:
        log.exception("a switchboard_messages_stored hook failed")


async def mark_done(db: Database, ids: Sequence[uuid.UUID]) -> None:
    """Mark these messages' hooks as run."""
    pending = message_hooks_pending.c
    async with db.transaction() as conn:
        for i in range(0, len(ids), _CHUNK):
            await conn.execute(sa.delete(message_hooks_pending).where(pending.message_id.in_(ids[i : i + _CHUNK])))


async def run_pending(gateway: Gateway, *, older_than: float = PENDING_GRACE, now: datetime | None = None) -> int:
    """Run the hooks of messages a stopped process left pending; how many messages.

    Each batch is taken before its hooks run (marked done in the statement that finds it is
    still pending), so two sweepers never run one message's hooks twice; a process stopped
    while running them here loses them.
    """
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=older_than)
    total = 0
    while True:
        pending = message_hooks_pending.c
        async with gateway.db.transaction() as conn:
            candidates = list(
                await conn.scalars(
                    sa.select(pending.message_id)
                    .where(pending.received_at < cutoff)
                    .order_by(pending.received_at)
                    .limit(BATCH)
                )
            )
            if not candidates:
                break
            taken = list(
                await conn.scalars(
                    sa.delete(message_hooks_pending)
                    .where(pending.message_id.in_(candidates))
                    .returning(pending.message_id)
                )
            )
            rows = (
                (await conn.execute(sa.select(messages).where(among(messages.c.id, taken)).order_by(messages.c.id)))
                .mappings()
                .all()
            )
            conversation_ids = sorted({r["conversation_id"] for r in rows if r["conversation_id"] is not None})
            keys: dict[uuid.UUID, str] = {}
            first: dict[uuid.UUID, uuid.UUID | None] = {}
            if conversation_ids:
                keys = {
                    r.id: r.participant
                    for r in await conn.execute(
                        sa.select(conversations.c.id, conversations.c.participant).where(
                            among(conversations.c.id, conversation_ids)
                        )
                    )
                }
                for cid in conversation_ids:  # its first message (PostgreSQL has no min() of uuids)
                    first[cid] = await conn.scalar(
                        sa.select(messages.c.id).where(messages.c.conversation_id == cid).order_by(messages.c.id).limit(1)
                    )
            sent: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {}
            for r in await conn.execute(
                sa.select(deliveries.c.id, deliveries.c.message_id, deliveries.c.destination)
                .where(among(deliveries.c.message_id, taken))
                .order_by(deliveries.c.id)
            ):
                sent.setdefault(r.message_id, []).append((r.id, r.destination))
        stored: list[tuple[StandardMessage, Stored]] = []
        for row in rows:
            message = message_from_row(dict(row))
            conversation_id = message.conversation_id
            if conversation_id is not None and conversation_id in keys:
                message.conversation_key = keys[conversation_id]
            made = sent.get(row["id"], [])
            stored.append(
                (
                    message,
                    Stored(
                        message_id=row["id"],
                        duplicate=False,
                        conversation_id=conversation_id,
                        conversation_opened=conversation_id is not None and first.get(conversation_id) == row["id"],
                        delivery_ids=[d for d, _ in made],
                        destinations=[name for _, name in made],
                    ),
                )
            )
        if stored:
            await run_stored_hooks(gateway, stored)
            total += len(stored)
        if len(candidates) < BATCH:
            break
    if total:
        log.warning("ran the stored-message hooks of %d messages that a stopped process left pending", total)
    return total
