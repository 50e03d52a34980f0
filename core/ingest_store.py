"""The statements of an ingest transaction, for SQLite (SQLAlchemy Core) and PostgreSQL (asyncpg).

On PostgreSQL the hot path skips SQLAlchemy's per-statement compilation: each step is one
prepared statement taking arrays (``unnest``), and rows go in with COPY. Both stores run
inside the caller's transaction and behave the same; the ingest logic above them is shared.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db import bulk_insert
from core.models import conversations, messages

_CHUNK = 400  # bound IN-lists on SQLite (at most 32,766 variables per statement)


class OpenConversation(NamedTuple):
    id: uuid.UUID
    platform: str
    participant: str
    last_message_at: datetime


class IngestStore(Protocol):
    async def existing(self, platform: str, external_ids: Sequence[str]) -> dict[str, uuid.UUID]:
        """Which of these external ids of ``platform`` are stored, with their message ids."""

    async def open_conversations(self, keys: Sequence[tuple[str, str]]) -> list[OpenConversation]:
        """The open conversations of these (platform, participant) keys."""

    async def close_conversations(self, ids: Sequence[uuid.UUID], now: datetime) -> None: ...

    async def touch_conversations(self, touches: Sequence[tuple[uuid.UUID, datetime, int]]) -> None:
        """Move each conversation's last message time forward and add to its count."""

    async def insert(self, table: sa.Table, rows: list[dict[str, Any]]) -> None: ...


class SQLAlchemyStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def existing(self, platform: str, external_ids: Sequence[str]) -> dict[str, uuid.UUID]:
        found: dict[str, uuid.UUID] = {}
        for i in range(0, len(external_ids), _CHUNK):
            rows = await self.conn.execute(
                sa.select(messages.c.id, messages.c.external_id).where(
                    messages.c.platform == platform, messages.c.external_id.in_(external_ids[i : i + _CHUNK])
                )
            )
            found.update({r.external_id: r.id for r in rows})
        return found

    async def open_conversations(self, keys: Sequence[tuple[str, str]]) -> list[OpenConversation]:
        found: list[OpenConversation] = []
        c = conversations.c
        for i in range(0, len(keys), _CHUNK):
            rows = await self.conn.execute(
                sa.select(c.id, c.platform, c.participant, c.last_message_at).where(
                    c.status == "open", sa.tuple_(c.platform, c.participant).in_(keys[i : i + _CHUNK])
                )
            )
            found += [OpenConversation(*r) for r in rows]
        return found

    async def close_conversations(self, ids: Sequence[uuid.UUID], now: datetime) -> None:
        await self.conn.execute(
            sa.update(conversations).where(conversations.c.id.in_(ids)).values(status="closed", closed_at=now)
        )

    async def touch_conversations(self, touches: Sequence[tuple[uuid.UUID, datetime, int]]) -> None:
        await self.conn.execute(
            sa.update(conversations)
            .where(conversations.c.id == sa.bindparam("cid"))
            .values(
                last_message_at=sa.bindparam("ts"), message_count=conversations.c.message_count + sa.bindparam("n")
            ),
            [{"cid": cid, "ts": ts, "n": n} for cid, ts, n in touches],
        )

    async def insert(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        await bulk_insert(self.conn, table, rows)


class PostgresStore:
    def __init__(self, conn: AsyncConnection, raw: Any) -> None:
        self.conn = conn
        self.raw = raw  # the asyncpg connection, inside the same transaction

    async def existing(self, platform: str, external_ids: Sequence[str]) -> dict[str, uuid.UUID]:
        rows = await self.raw.fetch(
            "SELECT id, external_id FROM messages WHERE platform = $1 AND external_id = ANY($2::varchar[])",
            platform,
            list(external_ids),
        )
        return {r["external_id"]: uuid.UUID(bytes=r["id"].bytes) for r in rows}

    async def open_conversations(self, keys: Sequence[tuple[str, str]]) -> list[OpenConversation]:
        rows = await self.raw.fetch(
            "SELECT c.id, c.platform, c.participant, c.last_message_at FROM conversations c"
            " JOIN unnest($1::varchar[], $2::varchar[]) AS k(platform, participant)"
            " ON c.platform = k.platform AND c.participant = k.participant WHERE c.status = 'open'",
            [k[0] for k in keys],
            [k[1] for k in keys],
        )
        return [OpenConversation(uuid.UUID(bytes=r[0].bytes), r[1], r[2], r[3]) for r in rows]

    async def close_conversations(self, ids: Sequence[uuid.UUID], now: datetime) -> None:
        await self.raw.execute(
            "UPDATE conversations SET status = 'closed', closed_at = $2 WHERE id = ANY($1::uuid[])", list(ids), now
        )

    async def touch_conversations(self, touches: Sequence[tuple[uuid.UUID, datetime, int]]) -> None:
        await self.raw.execute(
            "UPDATE conversations AS c SET last_message_at = greatest(c.last_message_at, v.ts),"
            " message_count = c.message_count + v.n"
            " FROM unnest($1::uuid[], $2::timestamptz[], $3::int[]) AS v(id, ts, n) WHERE c.id = v.id",
            [t[0] for t in touches],
            [t[1] for t in touches],
            [t[2] for t in touches],
        )

    async def insert(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        await bulk_insert(self.conn, table, rows)


async def store_for(conn: AsyncConnection) -> IngestStore:
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        return PostgresStore(conn, raw.driver_connection)
    return SQLAlchemyStore(conn)
