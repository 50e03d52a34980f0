"""Where an ingest batch is stored: SQLite (SQLAlchemy Core) or PostgreSQL (one raw statement).

``core.pipeline.ingest`` turns a batch of submissions into a ``Plan``: every message not repeated
within the batch, with a fresh id; a candidate conversation, with a fresh id, for each
(platform, participant); the deliveries of every message; the audit rows. The store then
decides against what is already stored, all or nothing:

- a message whose (platform, external id) is stored already is a duplicate: it is not
  inserted and neither are its deliveries;
- a new message joins the open conversation of its participant, or the candidate when there
  is none or the open one has been idle longer than ``Plan.idle`` (the idle one is closed);
- a conversation's ``last_message_at`` and ``message_count`` move by its new messages only,
  and a candidate is inserted only when a new message joins it.

Both stores give the same ``StoreResult``. A race with another process that opens the same
conversation ends in one of ``CONFLICTS``; the caller runs the plan again.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

import asyncpg
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.privacy.columns import keyring_of, seal_row
from core.storage.db import Database, column_list, json_rows, pairs_among, pg_uuid, recordset
from core.storage.models import audit_log, conversations, deliveries, message_hooks_pending, messages

Key = tuple[str, str]

# What a store raises when another process opened the same conversation at the same moment
# (a unique violation; SQLite's IntegrityError also covers a message stored meanwhile), or
# when two batches wait on each other's rows (a deadlock): run the plan again. On PostgreSQL
# a message stored meanwhile is no conflict: the statement waits for it and counts it stored.
CONFLICTS: tuple[type[Exception], ...] = (
    IntegrityError,
    asyncpg.UniqueViolationError,
    asyncpg.DeadlockDetectedError,
)
_CHUNK = 400  # bound IN-lists on SQLite (at most 32,766 variables per statement)
# What a statement on a connection the server dropped while it sat in the pool raises (a restart,
# a failover, pg_terminate_backend): the server's farewell (57P01, 57P02) read in place of an
# answer, the closed socket, or asyncpg's protocol left out of step by a farewell that came
# while it was idle (InternalClientError). The pool replaces a connection it sees closed at
# checkout; these are the ones it had not yet seen.
DROPPED: tuple[type[Exception], ...] = (
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InternalClientError,
    ConnectionResetError,
)


class Candidate(NamedTuple):
    """A conversation to open for (platform, participant) if the batch needs a new one."""

    id: uuid.UUID
    platform: str
    participant: str
    latest: datetime  # the newest message time in the batch: is the open one idle by then?


@dataclass
class Plan:
    now: datetime
    idle: timedelta
    messages: list[dict[str, Any]]  # message rows (``conversation_id`` left out), no key twice
    participants: list[str | None]  # each message's conversation key (None: no conversation)
    conversations: list[Candidate]
    deliveries: list[dict[str, Any]]  # rows for every message; inserted with new messages only
    owners: list[int]  # the position in ``messages`` of each delivery's message
    audit: list[dict[str, Any]]
    hooks: bool = False  # new messages wait for plugins' stored-message hooks (message_hooks_pending)
    hooks_done: list[uuid.UUID] = field(default_factory=list)  # earlier messages whose hooks have run


@dataclass
class StoreResult:
    """What the store decided, by position in ``Plan.messages``: every message not a duplicate
    is new (positions rather than ids: nothing to convert or hash per message)."""

    duplicates: dict[int, uuid.UUID] = field(default_factory=dict)  # a message stored already -> its id
    conversations: dict[int, uuid.UUID] = field(default_factory=dict)  # a new message in a conversation -> it
    opened: set[uuid.UUID] = field(default_factory=set)  # conversations opened by this batch


class IngestStore(Protocol):
    async def store(self, plan: Plan) -> StoreResult: ...

    async def close(self) -> None: ...


def make_store(db: Database, connections: int) -> IngestStore:
    if db.dialect == "postgresql":
        return PostgresStore(db.engine, connections)
    return SQLAlchemyStore(db)


class SQLAlchemyStore:
    """Look up, decide in Python, insert: a few statements in one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def close(self) -> None:
        return None

    async def store(self, plan: Plan) -> StoreResult:
        async with self.db.transaction() as conn:
            return await self._store(conn, plan)

    async def _store(self, conn: AsyncConnection, plan: Plan) -> StoreResult:
        outcome = StoreResult()
        m = messages.c
        keys = [(row["platform"], row["external_id"]) for row in plan.messages]
        existing: dict[Key, uuid.UUID] = {}
        for i in range(0, len(keys), _CHUNK):
            rows = await conn.execute(
                sa.select(m.id, m.platform, m.external_id).where(
                    pairs_among(m.platform, m.external_id, keys[i : i + _CHUNK])
                )
            )
            existing.update({(r.platform, r.external_id): r.id for r in rows})
        if existing:
            outcome.duplicates = {i: existing[key] for i, key in enumerate(keys) if key in existing}
        new = [
            (i, row, participant)
            for i, (row, participant) in enumerate(zip(plan.messages, plan.participants, strict=True))
            if i not in outcome.duplicates
        ]

        # Each conversation the new messages join: the open one unless it has gone idle.
        joined: dict[Key, tuple[datetime, int]] = {}
        for _, row, participant in new:
            if participant is not None:
                key = (row["platform"], participant)
                ts, count = joined.get(key, (row["timestamp"], 0))
                joined[key] = (max(ts, row["timestamp"]), count + 1)
        candidates = {
            (c.platform, c.participant): c for c in plan.conversations if (c.platform, c.participant) in joined
        }
        open_now: dict[Key, tuple[uuid.UUID, datetime]] = {}
        c = conversations.c
        wanted = sorted(candidates)
        for i in range(0, len(wanted), _CHUNK):
            rows = await conn.execute(
                sa.select(c.id, c.platform, c.participant, c.last_message_at).where(
                    c.status == "open", pairs_among(c.platform, c.participant, wanted[i : i + _CHUNK])
                )
            )
            open_now.update({(r.platform, r.participant): (r.id, r.last_message_at) for r in rows})
        conversation_of: dict[Key, uuid.UUID] = {}
        to_close: list[uuid.UUID] = []
        to_open: list[dict[str, Any]] = []
        to_touch: list[dict[str, Any]] = []
        for key, candidate in candidates.items():
            ts, count = joined[key]
            current = open_now.get(key)
            if current is not None and max(plan.now, candidate.latest) - current[1] <= plan.idle:
                conversation_of[key] = current[0]
                to_touch.append({"cid": current[0], "ts": max(ts, current[1]), "n": count})
                continue
            if current is not None:
                to_close.append(current[0])
            conversation_of[key] = candidate.id
            outcome.opened.add(candidate.id)
            to_open.append(
                {
                    "id": candidate.id,
                    "platform": key[0],
                    "participant": key[1],
                    "status": "open",
                    "opened_at": plan.now,
                    "last_message_at": ts,
                    "message_count": count,
                    "state": {},
                }
            )

        message_rows = []
        for i, row, participant in new:
            cid = conversation_of.get((row["platform"], participant)) if participant is not None else None
            message_rows.append(row | {"conversation_id": cid})
            if cid is not None:
                outcome.conversations[i] = cid
        if to_close:
            await conn.execute(
                sa.update(conversations).where(c.id.in_(to_close)).values(status="closed", closed_at=plan.now)
            )
        await _insert(conn, conversations, to_open)
        if to_touch:
            await conn.execute(
                sa.update(conversations)
                .where(c.id == sa.bindparam("cid"))
                .values(last_message_at=sa.bindparam("ts"), message_count=c.message_count + sa.bindparam("n")),
                to_touch,
            )
        await _insert(conn, messages, message_rows)
        if plan.hooks:
            await _insert(
                conn, message_hooks_pending, [{"message_id": r["id"], "received_at": plan.now} for r in message_rows]
            )
        pending = message_hooks_pending.c
        for i in range(0, len(plan.hooks_done), _CHUNK):
            await conn.execute(
                sa.delete(message_hooks_pending).where(pending.message_id.in_(plan.hooks_done[i : i + _CHUNK]))
            )
        await _insert(
            conn,
            deliveries,
            [d for d, owner in zip(plan.deliveries, plan.owners, strict=True) if owner not in outcome.duplicates],
        )
        await _insert(conn, audit_log, plan.audit)
        return outcome


async def _insert(conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(table.insert(), rows)


_MESSAGE_COLUMNS = (
    "id", "platform", "external_id", "direction", "kind", "sender", "sender_name", "recipient", "text",
    "media", "timestamp", "raw", "extra", "received_at",
)  # fmt: skip
_DELIVERY_COLUMNS = (
    "id", "message_id", "destination", "platform", "status", "attempt_count", "max_attempts", "next_attempt_at",
    "options", "idempotency_key", "created_at", "updated_at",
)  # fmt: skip
_AUDIT_COLUMNS = tuple(c.name for c in audit_log.c if c.name != "id")


# The whole plan as one statement. Its data-modifying WITHs each run to completion whatever
# the main query reads; foreign keys are checked at the end of the statement, when all rows
# are in. The statement's snapshot is taken once, at its start:
# - cur: the open conversation of each candidate's participant, and whether it is idle;
# - closed: the idle ones, closed;
# - chosen: the conversation each participant's new messages join;
# - stored: every message, inserted or, when its key is stored already, found through the
#   unique index that arbitrates the conflict (a no-op update: no separate lookup whose plan
#   could pick another index, and a concurrent insert of the same key is waited for and
#   found). `xmax = 0` tells a row inserted now from one that was there (PostgreSQL's own
#   idiom for ON CONFLICT DO UPDATE; tests on duplicates and races pin it down);
# - m: the messages inserted now;
# - agg: what the new messages add to each conversation;
# - opened: candidates that a new message joined. The open-participant unique index is
#   checked row by row, so `closed` must have run first: the scalar subquery over it is an
#   InitPlan, evaluated in full before the first candidate row is produced;
# - touched: open conversations that new messages joined;
# - d, a: deliveries of new messages, audit rows;
# - h: new messages waiting for plugins' stored-message hooks, when any are registered ($7);
# - hd: earlier messages whose hooks have run since ($8).
# The result: new messages that joined a conversation (0), opened conversations (1), and the
# stored ids of duplicates (2); every other message of the plan is new, in no conversation
# (nothing comes back for those: a batch of 1,000 readings returns no rows).
_STATEMENT = f"""
WITH
k AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS k(id uuid, platform varchar, participant varchar,
      latest timestamptz)),
cur AS (SELECT k.id AS candidate, c.id, greatest($4::timestamptz, k.latest) - c.last_message_at > $5::interval AS idle
        FROM k CROSS JOIN LATERAL (SELECT c.id, c.last_message_at FROM conversations c
             WHERE c.platform = k.platform AND c.participant = k.participant AND c.status = 'open' LIMIT 1) c),
closed AS (UPDATE conversations SET status = 'closed', closed_at = $4
           WHERE id = ANY(ARRAY(SELECT id FROM cur WHERE idle)) RETURNING id),
chosen AS (SELECT k.platform, k.participant, CASE WHEN cur.idle IS false THEN cur.id ELSE k.id END AS id,
                  cur.idle IS NOT false AS new
           FROM k LEFT JOIN cur ON cur.candidate = k.id),
stored AS (INSERT INTO messages ({column_list(_MESSAGE_COLUMNS)}, conversation_id)
      SELECT {column_list(_MESSAGE_COLUMNS, "r.")}, ch.id
      FROM {recordset(messages, _MESSAGE_COLUMNS, 1, "r", "participant varchar")}
      LEFT JOIN chosen ch ON ch.platform = r.platform AND ch.participant = r.participant
      ON CONFLICT (platform, external_id) DO UPDATE SET platform = EXCLUDED.platform
      RETURNING id, platform, external_id, conversation_id, timestamp, xmax = 0 AS new),
m AS (SELECT id, conversation_id, timestamp FROM stored WHERE new),
agg AS (SELECT conversation_id AS id, max(timestamp) AS latest, count(*)::int AS n
        FROM m WHERE conversation_id IS NOT NULL GROUP BY 1),
opened AS (INSERT INTO conversations (id, platform, participant, status, opened_at, last_message_at, message_count, state)
           SELECT ch.id, ch.platform, ch.participant, 'open', $4, agg.latest, agg.n, '{{}}'
           FROM chosen ch JOIN agg USING (id)
           WHERE ch.new AND (SELECT count(*) FROM closed) >= 0
           RETURNING id),
touched AS (UPDATE conversations c SET last_message_at = greatest(c.last_message_at, agg.latest),
                   message_count = c.message_count + agg.n
            FROM agg WHERE c.id = agg.id AND c.id = ANY(ARRAY(SELECT id FROM chosen WHERE NOT new))),
d AS (INSERT INTO deliveries ({column_list(_DELIVERY_COLUMNS)})
      SELECT {column_list(_DELIVERY_COLUMNS, "r.")}
      FROM {recordset(deliveries, _DELIVERY_COLUMNS, 3)}
      WHERE r.message_id IN (SELECT id FROM m)),
a AS (INSERT INTO audit_log ({column_list(_AUDIT_COLUMNS)})
      SELECT {column_list(_AUDIT_COLUMNS)} FROM {recordset(audit_log, _AUDIT_COLUMNS, 6)}),
h AS (INSERT INTO message_hooks_pending (message_id, received_at) SELECT id, $4 FROM m WHERE $7::boolean),
hd AS (DELETE FROM message_hooks_pending WHERE message_id = ANY($8::uuid[]))
SELECT 0, id, conversation_id, NULL, NULL FROM m WHERE conversation_id IS NOT NULL
UNION ALL SELECT 1, id, NULL, NULL, NULL FROM opened
UNION ALL SELECT 2, id, NULL, platform, external_id FROM stored WHERE NOT new
"""  # noqa: S608 - table and column names only


async def _no_reset(_conn: asyncpg.Connection) -> None:
    """Connections come back from autocommit statements: nothing to reset (asyncpg's default
    reset costs a round trip per use)."""


class PostgresStore:
    """The plan in one statement, on the store's own asyncpg connections (no SQLAlchemy pool
    checkout or transaction per batch): one round trip per batch."""

    def __init__(self, engine: AsyncEngine, connections: int) -> None:
        self.engine = engine
        self.connections = connections
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    # The same server, credentials and options as the engine's own connections.
                    _, options = self.engine.dialect.create_connect_args(self.engine.url)
                    for name in ("prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn"):
                        options.pop(name, None)
                    # Every table access of the statement is an index probe and must stay one,
                    # even under a plan made while the tables were empty (a new install, or no
                    # ANALYZE since): a per-row lookup planned then as a scan grows with the
                    # table (a batch of 100 took 480 ms instead of 16 ms at 20,000 messages
                    # when a lookup by key used the (platform, id) index).
                    settings = dict(options.pop("server_settings", None) or {})
                    settings["enable_seqscan"] = "off"
                    self._pool = await asyncpg.create_pool(
                        min_size=0, max_size=self.connections, reset=_no_reset, server_settings=settings, **options
                    )
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def store(self, plan: Plan) -> StoreResult:
        message_rows = [row | {"participant": p} for row, p in zip(plan.messages, plan.participants, strict=True)]
        candidates = [c._asdict() for c in plan.conversations]
        audit = plan.audit
        dialect = self.engine.dialect
        if keyring_of(dialect) is not None:
            # Personal data sealed as the columns' types would seal it (the raw statement bypasses
            # them). Identifiers seal to the same text each time, so the joins on them still hold.
            participant = conversations.c.participant
            message_rows = [seal_row(messages, row, dialect, participant=participant) for row in message_rows]
            candidates = [seal_row(conversations, row, dialect) for row in candidates]
            audit = [seal_row(audit_log, row, dialect) for row in audit]
        args = (
            json_rows(message_rows),
            json_rows(candidates),
            json_rows(plan.deliveries),
            plan.now,
            plan.idle,
            json_rows(audit),
            plan.hooks,
            plan.hooks_done,
        )
        pool = await self._get_pool()
        try:
            async with pool.acquire() as conn:
                rows = await conn.fetch(_STATEMENT, *args)
        except DROPPED:
            # Once more, on a connection the pool opens afresh. Safe even if the first run was
            # committed before the connection died: its messages are found stored (duplicates).
            async with pool.acquire() as conn:
                rows = await conn.fetch(_STATEMENT, *args)
        outcome = StoreResult()
        by_id: dict[int, int] | None = None
        by_key: dict[Key, int] | None = None
        for part, rid, conversation_id, platform, external_id in rows:
            if part == 0:
                if by_id is None:
                    by_id = {row["id"].int: i for i, row in enumerate(plan.messages)}
                outcome.conversations[by_id[pg_uuid(rid).int]] = pg_uuid(conversation_id)
            elif part == 1:
                outcome.opened.add(pg_uuid(rid))
            else:
                if by_key is None:
                    by_key = {(row["platform"], row["external_id"]): i for i, row in enumerate(plan.messages)}
                outcome.duplicates[by_key[(platform, external_id)]] = pg_uuid(rid)
        return outcome
