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

Each plugin's hook runs on its own: one that raises (its database unreachable for a moment, a
bug) does not stop the others, and its messages stay pending for that plugin alone. The
sweeper runs that plugin's hook again after ``retry_delay`` (1, 2, 4 … minutes, at most an
hour), and after ``MAX_ATTEMPTS`` runs gives up with an error line and a ``system`` audit row
(``stored_hook_given_up``) naming the plugin and the messages.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from core.messages import StandardMessage
from core.metrics import metrics
from core.pipeline.delivery_store import message_from_row
from core.storage.db import Database, among
from core.storage.models import audit_log, conversations, deliveries, message_hooks_pending, messages

if TYPE_CHECKING:
    from core.gateway import Gateway

log = logging.getLogger("switchboard.ingest")

# How long a message may stay pending before the sweeper takes its hooks as lost: longer than
# any batch's hooks take (a submitter stops waiting for them after 10 s).
PENDING_GRACE = 60.0
BATCH = 500
_CHUNK = 1000
# How many times a plugin's hook is run for a batch before its messages are given up.
MAX_ATTEMPTS = 8
# How long a sweeper holds the messages whose hooks it runs: another sweeper runs them once it
# has run out (the first stopped). Longer than any hooks take.
LEASE = timedelta(minutes=5)
HOOK = "switchboard_messages_stored"


def retry_delay(attempts: int) -> timedelta:
    """How long after its ``attempts``-th failed run a plugin's hook is run again."""
    return timedelta(seconds=min(PENDING_GRACE * 2 ** (attempts - 1), 3600.0))


@dataclass
class Stored:
    """What became of one submitted message."""

    message_id: uuid.UUID
    duplicate: bool
    conversation_id: uuid.UUID | None = None
    conversation_opened: bool = False
    delivery_ids: list[uuid.UUID] = field(default_factory=list)
    destinations: list[str] = field(default_factory=list)


async def run_stored_hooks(
    gateway: Gateway, stored: Sequence[tuple[StandardMessage, Stored]], *, only: Collection[str] | None = None
) -> list[str]:
    """Call each plugin's ``switchboard_messages_stored`` hook (or only these plugins');
    the names of the plugins whose hook raised (each is logged and counted)."""
    failed = await gateway.plugins.notify_each(HOOK, only=only, stored=stored, gateway=gateway)
    for plugin in failed:
        metrics().stored_hook_failed(plugin)
    return failed


async def retry_later(db: Database, ids: Sequence[uuid.UUID], plugins: Sequence[str]) -> None:
    """Keep these messages pending for the plugins whose hook raised in the ingest's run."""
    async with db.transaction() as conn:
        await _keep_for(conn, ids, plugins, 1, datetime.now(UTC))


async def mark_done(db: Database, ids: Sequence[uuid.UUID]) -> None:
    """Mark these messages' hooks as run."""
    async with db.transaction() as conn:
        await _delete(conn, ids)


async def _keep_for(
    conn: AsyncConnection, ids: Sequence[uuid.UUID], plugins: Sequence[str], attempts: int, now: datetime
) -> None:
    """Pending for these plugins alone after their ``attempts``-th failed run, due again after ``retry_delay``."""
    pending = message_hooks_pending.c
    values = {"plugins": sorted(plugins), "attempts": attempts, "retry_at": now + retry_delay(attempts)}
    for i in range(0, len(ids), _CHUNK):
        await conn.execute(
            sa.update(message_hooks_pending).where(pending.message_id.in_(ids[i : i + _CHUNK])).values(**values)
        )


async def _delete(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> None:
    pending = message_hooks_pending.c
    for i in range(0, len(ids), _CHUNK):
        await conn.execute(sa.delete(message_hooks_pending).where(pending.message_id.in_(ids[i : i + _CHUNK])))


async def waiting(db: Database, now: datetime | None = None) -> dict[str, int]:
    """Messages whose hooks wait for the sweeper: ``retry`` (a plugin's hook raised) and
    ``left`` (pending past ``PENDING_GRACE``: a stopped process left them)."""
    p = message_hooks_pending.c
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=PENDING_GRACE)
    async with db.transaction() as conn:
        row = (
            await conn.execute(
                sa.select(
                    sa.func.count().filter(p.attempts > 0),
                    sa.func.count().filter(p.attempts == 0, p.received_at < cutoff),
                )
            )
        ).one()
    return {"retry": int(row[0]), "left": int(row[1])}


async def run_pending(gateway: Gateway, *, older_than: float = PENDING_GRACE, now: datetime | None = None) -> int:
    """Run the hooks of messages left pending (by a stopped process, or by a hook that raised
    and is due again); how many messages.

    Each batch is leased before its hooks run (``retry_at`` moved ``LEASE`` ahead, in the
    statement that finds it still due), so two sweepers never run one message's hooks at once,
    and one stopped while running them leaves them to the next sweep once the lease runs out.
    Their rows go once the hooks have run; a plugin whose hook raises again keeps them pending
    for itself, until ``MAX_ATTEMPTS``.
    """
    moment = now or datetime.now(UTC)
    cutoff = moment - timedelta(seconds=older_than)
    total = 0
    while True:
        pending = message_hooks_pending.c
        due = sa.and_(pending.received_at < cutoff, sa.or_(pending.retry_at.is_(None), pending.retry_at <= moment))
        async with gateway.db.transaction() as conn:
            candidates = list(
                await conn.scalars(sa.select(pending.message_id).where(due).order_by(pending.received_at).limit(BATCH))
            )
            if not candidates:
                break
            taken = {
                r.message_id: r
                for r in await conn.execute(
                    sa.update(message_hooks_pending)
                    .where(pending.message_id.in_(candidates), due)
                    .values(retry_at=moment + LEASE)
                    .returning(pending.message_id, pending.received_at, pending.plugins, pending.attempts)
                )
            }
            stored = await _stored(conn, list(taken))
        # Messages taken together for the same plugins (null: all) and the same number of runs.
        groups: dict[tuple[tuple[str, ...] | None, int], list[tuple[StandardMessage, Stored]]] = {}
        for message, result in stored:
            left = taken[result.message_id]
            plugins = None if left.plugins is None else tuple(left.plugins)
            groups.setdefault((plugins, left.attempts), []).append((message, result))
        for (plugins, attempts), group in groups.items():
            failed = await run_stored_hooks(gateway, group, only=plugins)
            await _ran(gateway, [s.message_id for _, s in group], failed, attempts + 1, moment)
        total += len(stored)
        if len(candidates) < BATCH:
            break
    if total:
        log.warning("ran the stored-message hooks of %d messages left pending", total)
    return total


async def _stored(conn: AsyncConnection, ids: list[uuid.UUID]) -> list[tuple[StandardMessage, Stored]]:
    """These messages as a batch's hooks see them: each with what the core did with it."""
    rows = (
        (await conn.execute(sa.select(messages).where(among(messages.c.id, ids)).order_by(messages.c.id)))
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
        .where(among(deliveries.c.message_id, ids))
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
    return stored


async def _ran(gateway: Gateway, ids: list[uuid.UUID], failed: list[str], attempts: int, now: datetime) -> None:
    """After a leased run: the rows go, or stay for the plugins whose hook raised, or those are given up."""
    async with gateway.db.transaction() as conn:
        if failed and attempts < MAX_ATTEMPTS:
            await _keep_for(conn, ids, failed, attempts, now)
            return
        await _delete(conn, ids)
        texts = [str(message_id) for message_id in ids]
        for plugin in failed:
            metrics().stored_hooks_given_up(plugin, len(ids))
            log.error(
                "plugin %s: gave up its %s hook for %d messages after %d runs (message ids in the audit log)",
                plugin,
                HOOK,
                len(texts),
                attempts,
            )
            row = gateway.audit.row(
                "system",
                action="stored_hook_given_up",
                actor=f"plugin:{plugin}",
                actor_type="system",
                detail={"plugin": plugin, "hook": HOOK, "attempts": attempts, "message_ids": texts},
            )
            await conn.execute(audit_log.insert().values(**row))
