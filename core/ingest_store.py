"""The statements of an ingest transaction, for SQLite (SQLAlchemy Core) and PostgreSQL (asyncpg).

On PostgreSQL the hot path skips SQLAlchemy: the lookup and the write are one prepared
statement each, taking arrays (``unnest``). Both stores behave the same; the ingest logic
above them is shared.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import asyncpg
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db import pg_uuid, unnest_args, unnest_insert
from core.models import audit_log, conversations, deliveries, messages

_TOUCH = (
    "UPDATE conversations AS c SET last_message_at = greatest(c.last_message_at, v.ts),"
    " message_count = c.message_count + v.n"
    " FROM unnest(${a}::uuid[], ${b}::timestamptz[], ${c}::int[]) AS v(id, ts, n) WHERE c.id = v.id"
)
_CHUNK = 400  # bound IN-lists on SQLite (at most 32,766 variables per statement)


class OpenConversation(NamedTuple):
    id: uuid.UUID
    platform: str
    participant: str
    last_message_at: datetime


Key = tuple[str, str]


# What a write raises when another process stored the same message or opened the same
# conversation between our lookup and our write: look up again and retry.
CONFLICTS: tuple[type[Exception], ...] = (IntegrityError, asyncpg.UniqueViolationError)


class IngestStore(Protocol):
    async def lookup(
        self, message_keys: Sequence[Key], conversation_keys: Sequence[Key]
    ) -> tuple[dict[Key, uuid.UUID], list[OpenConversation]]:
        """The stored messages among these (platform, external id) keys, with their ids, and
        the open conversations among these (platform, participant) keys."""

    async def close_conversations(self, ids: Sequence[uuid.UUID], now: datetime) -> None: ...

    async def write(self, batch: Batch) -> None:
        """Insert the batch's rows and move its conversations forward, all or nothing."""


class Batch(NamedTuple):
    opened: list[dict[str, Any]]  # conversation rows
    touched: list[tuple[uuid.UUID, datetime, int]]  # (conversation id, last message time, added count)
    messages: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    audit: list[dict[str, Any]]


class SQLAlchemyStore:
    """Runs inside the caller's transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lookup(
        self, message_keys: Sequence[Key], conversation_keys: Sequence[Key]
    ) -> tuple[dict[Key, uuid.UUID], list[OpenConversation]]:
        found: dict[Key, uuid.UUID] = {}
        m = messages.c
        for i in range(0, len(message_keys), _CHUNK):
            rows = await self.conn.execute(
                sa.select(m.id, m.platform, m.external_id).where(
                    sa.tuple_(m.platform, m.external_id).in_(message_keys[i : i + _CHUNK])
                )
            )
            found.update({(r.platform, r.external_id): r.id for r in rows})
        open_now: list[OpenConversation] = []
        c = conversations.c
        for i in range(0, len(conversation_keys), _CHUNK):
            rows = await self.conn.execute(
                sa.select(c.id, c.platform, c.participant, c.last_message_at).where(
                    c.status == "open", sa.tuple_(c.platform, c.participant).in_(conversation_keys[i : i + _CHUNK])
                )
            )
            open_now += [OpenConversation(*r) for r in rows]
        return found, open_now

    async def close_conversations(self, ids: Sequence[uuid.UUID], now: datetime) -> None:
        await self.conn.execute(
            sa.update(conversations).where(conversations.c.id.in_(ids)).values(status="closed", closed_at=now)
        )

    async def write(self, batch: Batch) -> None:
        await self._insert(conversations, batch.opened)
        if batch.touched:
            await self.conn.execute(
                sa.update(conversations)
                .where(conversations.c.id == sa.bindparam("cid"))
                .values(
                    last_message_at=sa.bindparam("ts"),
                    message_count=conversations.c.message_count + sa.bindparam("n"),
                ),
                [{"cid": cid, "ts": ts, "n": n} for cid, ts, n in batch.touched],
            )
        await self._insert(messages, batch.messages)
        await self._insert(deliveries, batch.deliveries)
        await self._insert(audit_log, batch.audit)

    async def _insert(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.conn.execute(table.insert(), rows)


class PostgresStore:
    """Raw asyncpg on the connection: a lookup and a write are one statement each.

    The write is a single statement (data-modifying CTEs, one per table), so it is atomic
    on its own and needs no BEGIN/COMMIT round trips: an ingest batch costs two round trips
    (three when an idle conversation is closed). Races with other processes end in a unique
    violation, which the caller answers by looking up again.
    """

    def __init__(self, raw: Any) -> None:
        self.raw = raw  # an asyncpg connection

    async def lookup(
        self, message_keys: Sequence[Key], conversation_keys: Sequence[Key]
    ) -> tuple[dict[Key, uuid.UUID], list[OpenConversation]]:
        rows = await self.raw.fetch(
            "SELECT true, m.id, m.platform, m.external_id, NULL::timestamptz FROM messages m"
            " JOIN unnest($1::varchar[], $2::varchar[]) AS k(platform, external_id)"
            " ON m.platform = k.platform AND m.external_id = k.external_id"
            " UNION ALL"
            " SELECT false, c.id, c.platform, c.participant, c.last_message_at FROM conversations c"
            " JOIN unnest($3::varchar[], $4::varchar[]) AS k(platform, participant)"
            " ON c.platform = k.platform AND c.participant = k.participant WHERE c.status = 'open'",
            [k[0] for k in message_keys],
            [k[1] for k in message_keys],
            [k[0] for k in conversation_keys],
            [k[1] for k in conversation_keys],
        )
        found: dict[Key, uuid.UUID] = {}
        open_now: list[OpenConversation] = []
        for is_message, rid, platform, key, last in rows:
            if is_message:
                found[(platform, key)] = pg_uuid(rid)
            else:
                open_now.append(OpenConversation(pg_uuid(rid), platform, key, last))
        return found, open_now

    async def close_conversations(self, ids: Sequence[uuid.UUID], now: datetime) -> None:
        await self.raw.execute(
            "UPDATE conversations SET status = 'closed', closed_at = $2 WHERE id = ANY($1::uuid[])", list(ids), now
        )

    async def write(self, batch: Batch) -> None:
        parts: list[str] = []
        args: list[Any] = []
        for table, rows in (
            (conversations, batch.opened),
            (messages, batch.messages),
            (deliveries, batch.deliveries),
            (audit_log, batch.audit),
        ):
            if rows:
                names = tuple(rows[0])
                sql, json_columns = unnest_insert(table, names, len(args) + 1)
                parts.append(sql)
                args += unnest_args(rows, names, json_columns)
        if batch.touched:
            n = len(args)
            parts.append(_TOUCH.format(a=n + 1, b=n + 2, c=n + 3))
            args += [[t[0] for t in batch.touched], [t[1] for t in batch.touched], [t[2] for t in batch.touched]]
        if parts:
            # Every data-modifying WITH runs to completion whether or not it is read; foreign
            # keys are checked at the end of the statement, when all rows are in.
            ctes = ", ".join(f"w{i} AS ({part})" for i, part in enumerate(parts))
            await self.raw.execute(f"WITH {ctes} SELECT 1", *args)  # noqa: S608 - table and column names only


async def store_for(conn: AsyncConnection) -> IngestStore:
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        return PostgresStore(raw.driver_connection)
    return SQLAlchemyStore(conn)
