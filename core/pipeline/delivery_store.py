"""Where the delivery engine claims deliveries and records attempts: SQLite or PostgreSQL.

Both stores take the same batches and give the same answers. A batch of claims is one
conditional UPDATE (two workers holding the same id never both deliver) plus the messages'
rows; a batch of outcomes updates the deliveries and inserts their attempt and audit rows,
all or nothing. Every dialect branch of the engine is here.

On PostgreSQL each batch is one raw asyncpg statement (data-modifying WITHs), so neither needs
BEGIN/COMMIT round trips and SQLAlchemy's per-statement compilation (a third of the worker's
CPU) is skipped. The statements run on the store's own asyncpg connections, as the ingest's do:
a checkout from SQLAlchemy's pool costs its liveness check (``pool_pre_ping``: BEGIN, a ping and
ROLLBACK, three round trips) per batch. JSON columns come back decoded (the connections' json and
jsonb codecs, as SQLAlchemy sets them); rows go in as one JSON document per table
(``core.storage.db.json_rows``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from core.contracts import DeliveryInfo
from core.messages import StandardMessage
from core.pipeline.ingest_store import DROPPED
from core.pipeline.statuses import WAITING, DeliveryStatus, claimable, sql_list
from core.privacy.columns import keyring_of, open_row, open_value, seal_row
from core.storage.db import Database, column_list, json_rows, pg_uuid, recordset
from core.storage.models import audit_log, deliveries, delivery_attempts, messages


@dataclass(frozen=True)
class Claim:
    info: DeliveryInfo
    message: StandardMessage
    # The attempt's number over the delivery's life (its attempt row's number); ``info.attempt``
    # counts within the current budget.
    number: int


@dataclass
class Record:
    """What one attempt came to, ready to be written."""

    info: DeliveryInfo
    values: dict[str, Any]
    attempt: dict[str, Any]
    audit: dict[str, Any]
    retry_at: datetime | None
    # What the attempt says of the destination's health, for its breaker: success | failure | neutral.
    verdict: str = "success"


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
        conversation_id=pg_uuid(row["conversation_id"]) if row["conversation_id"] is not None else None,
    )


def claim_from_rows(delivery: Mapping[Any, Any], message: Mapping[Any, Any]) -> Claim:
    """A claimed delivery from its columns as the claim returned them, and its message's row.

    The destination sees the current budget only: the attempts since the last requeue, and no
    detail from before it.
    """
    start = delivery["budget_start"]
    attempt = delivery["attempt_count"] - start
    return Claim(
        DeliveryInfo(
            id=pg_uuid(delivery["delivery_id"]),
            destination=delivery["destination"],
            attempt=attempt,
            max_attempts=delivery["max_attempts"] - start,
            idempotency_key=delivery["idempotency_key"],
            created_at=delivery["created_at"],
            options=dict(delivery["options"] or {}),
            previous_detail=delivery["detail"] if attempt > 1 else None,
            requeues=delivery["requeues"],
            requeued_at=delivery["requeued_at"],
        ),
        message_from_row(message),
        delivery["attempt_count"],
    )


# The columns a claim returns, as claim_from_rows in core.pipeline.deliveries reads them.
CLAIMED = (
    deliveries.c.id.label("delivery_id"),
    deliveries.c.attempt_count,
    deliveries.c.max_attempts,
    deliveries.c.destination,
    deliveries.c.message_id,
    deliveries.c.idempotency_key,
    deliveries.c.created_at,
    deliveries.c.options,
    deliveries.c.detail,
    deliveries.c.budget_start,
    deliveries.c.requeues,
    deliveries.c.requeued_at,
)

# The deliveries are found by primary key and only then checked. ``status || ''`` keeps the
# planner off the (status, next_attempt_at) index: with statistics from before a backlog (or
# none, on a new database) it took that index as the selective one, read every due delivery
# and filtered them by id (a claim of 50 at 100,000 waiting took 15-22 ms instead of 1-1.5 ms,
# and grew with the backlog). tests/test_claim_plan.py holds it to the key.
_CLAIM = f"""
WITH c AS (
  UPDATE deliveries SET status = 'running', attempt_count = attempt_count + 1, lease_until = $2, updated_at = $3
  WHERE id = ANY($1::uuid[]) AND (
    ((status || '') IN ({sql_list(WAITING)}) AND (next_attempt_at IS NULL OR next_attempt_at <= $3))
    OR ((status || '') = '{DeliveryStatus.RUNNING.value}' AND lease_until < $3))
  RETURNING id AS delivery_id, attempt_count, max_attempts, destination, message_id, idempotency_key, created_at,
            options, detail, budget_start, requeues, requeued_at
)
SELECT c.*, m.id, m.platform, m.external_id, m.kind, m.direction, m.sender, m.sender_name, m.recipient, m.text,
       m.media, m.timestamp, m.raw, m.extra, m.conversation_id
FROM c JOIN messages m ON m.id = c.message_id
"""  # noqa: S608 - statuses from the enum only

# The outcome columns of a delivery, as (name, bound value key); their types come from the
# table ("attempt" is the attempt_count the worker claimed).
_OUTCOME = (
    ("id", "b_id"),
    ("attempt", "b_attempt"),
    ("status", "b_status"),
    ("next_attempt_at", "b_next_attempt_at"),
    ("last_error", "b_last_error"),
    ("last_status_code", "b_last_status_code"),
    ("detail", "b_detail"),
    ("remote_ref", "b_remote_ref"),
    ("delivered_at", "b_delivered_at"),
    ("updated_at", "b_updated_at"),
)


@functools.cache
def _record_sql() -> str:
    outcome = recordset(deliveries, [n for n, _ in _OUTCOME if n != "attempt"], 1, "v", "attempt integer")
    attempt_names = [c.name for c in delivery_attempts.c if c.name != "id"]
    audit_names = [c.name for c in audit_log.c if c.name != "id"]
    # The deliveries are found by id through an array (an index scan whatever the planner
    # guesses of json_to_recordset's row count); a stale attempt (its lease ran out and
    # another worker re-claimed) changes nothing.
    return f"""
WITH v AS (SELECT * FROM {outcome}),
u AS (UPDATE deliveries AS d SET status = v.status, next_attempt_at = v.next_attempt_at, lease_until = NULL,
        last_error = v.last_error, last_status_code = v.last_status_code, detail = v.detail,
        remote_ref = coalesce(v.remote_ref, d.remote_ref), delivered_at = coalesce(v.delivered_at, d.delivered_at),
        updated_at = v.updated_at
      FROM v WHERE d.id = v.id AND d.id = ANY(ARRAY(SELECT id FROM v)) AND d.status = 'running'
        AND d.attempt_count = v.attempt),
a AS (INSERT INTO delivery_attempts ({column_list(attempt_names)})
      SELECT {column_list(attempt_names)} FROM {recordset(delivery_attempts, attempt_names, 2)}),
l AS (INSERT INTO audit_log ({column_list(audit_names)})
      SELECT {column_list(audit_names)} FROM {recordset(audit_log, audit_names, 3)})
SELECT 1
"""  # noqa: S608 - table and column names only


def claims_in_order(ids: list[uuid.UUID], claimed: dict[uuid.UUID, Claim]) -> list[Claim | None]:
    """The claim of each id in order; an id named twice (the sweeper and a retry's job, say, in
    one batch) gets its claim once, so it is attempted once."""
    out: list[Claim | None] = []
    for i in ids:
        out.append(claimed.pop(i, None))
    return out


class DeliveryStore(Protocol):
    async def claim(self, ids: list[uuid.UUID], now: datetime, lease_until: datetime) -> list[Claim | None]:
        """Claim those of ``ids`` that are due; the claim of each id in order (``None``: not claimed)."""
        ...

    async def record(self, records: list[Record]) -> None:
        """Write the outcomes of a batch of attempts, with their attempt and audit rows, at once."""
        ...

    async def close(self) -> None:
        """Close the store's own connections, if it has any."""
        ...


def make_delivery_store(db: Database) -> DeliveryStore:
    return PostgresDeliveryStore(db) if db.dialect == "postgresql" else SQLiteDeliveryStore(db)


class PostgresDeliveryStore:
    # Claims and outcomes each have up to two batches in flight (core.pipeline.deliveries).
    CONNECTIONS = 4

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def claim(self, ids: list[uuid.UUID], now: datetime, lease_until: datetime) -> list[Claim | None]:
        # One record per claim: the delivery's columns, then its message's under their own names.
        # Run again on a fresh connection if the server had dropped the first: safe, since a claim
        # that did commit leaves its deliveries leased, not due, so the second run claims none of them.
        rows = await self._run("fetch", _CLAIM, ids, lease_until, now)
        dialect = self.db.engine.dialect
        if keyring_of(dialect) is not None:
            # The raw statement bypasses the columns' types: personal data is opened here.
            rows = [_opened_claim(r, dialect) for r in rows]
        return claims_in_order(ids, {c.info.id: c for c in (claim_from_rows(r, r) for r in rows)})

    async def record(self, records: list[Record]) -> None:
        # Run again too if the server had dropped the connection: a batch that did commit (the
        # server went away between its commit and its answer) is not applied twice, as each
        # update needs the delivery still running at that attempt; only its attempt and audit
        # rows would be written twice.
        dialect = self.db.engine.dialect
        await self._run(
            "execute",
            _record_sql(),
            # Sealed as the columns' types would seal them (core.privacy.columns).
            json_rows(
                [seal_row(deliveries, {name: r.values[key] for name, key in _OUTCOME}, dialect) for r in records]
            ),
            json_rows([seal_row(delivery_attempts, r.attempt, dialect) for r in records]),
            json_rows([seal_row(audit_log, r.audit, dialect) for r in records]),
        )

    async def _run(self, method: str, query: str, *args: Any) -> Any:
        """``query`` on one of the store's connections; once more, on a new one, if the server dropped it.

        The pool replaces a connection it sees closed; one the server dropped while it sat in the
        pool (a restart, a failover, pg_terminate_backend) and not yet seen fails the statement.
        """
        pool = await self._get_pool()
        try:
            async with pool.acquire() as conn:
                return await getattr(conn, method)(query, *args)
        except DROPPED:
            async with pool.acquire() as conn:
                return await getattr(conn, method)(query, *args)

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    # The same server, credentials and options as the engine's own connections.
                    _, options = self.db.engine.dialect.create_connect_args(self.db.engine.url)
                    for name in ("prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn"):
                        options.pop(name, None)
                    self._pool = await asyncpg.create_pool(
                        min_size=0, max_size=self.CONNECTIONS, init=_json_codecs, reset=_no_reset, **options
                    )
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


async def _json_codecs(conn: asyncpg.Connection) -> None:
    """json and jsonb as SQLAlchemy's asyncpg dialect sets them: columns read as Python values,
    parameters passed as the JSON text they already are (``json_rows``)."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=str, decoder=json.loads, schema="pg_catalog")


async def _no_reset(_conn: asyncpg.Connection) -> None:
    """The statements are autocommit: a connection comes back with nothing to reset (asyncpg's
    default reset costs a round trip per use)."""


def _opened_claim(record: Mapping[str, Any], dialect: Dialect) -> dict[str, Any]:
    """A claim's record (the delivery's columns, then its message's) with its personal data opened."""
    row = open_row(messages, record, dialect)
    row["detail"] = open_value(deliveries.c.detail, row["detail"], dialect)
    return row


def claim_statement(ids: list[uuid.UUID], now: datetime, lease_until: datetime) -> sa.Update:
    """The claim of these deliveries where they are due, on SQLite: found by key, then checked."""
    return (
        sa.update(deliveries)
        .where(deliveries.c.id.in_(ids), claimable(now))
        .values(
            status=DeliveryStatus.RUNNING,
            attempt_count=deliveries.c.attempt_count + 1,
            lease_until=lease_until,
            updated_at=now,
        )
        .returning(*CLAIMED)
    )


_RECORD = (
    sa.update(deliveries)
    .where(
        deliveries.c.id == sa.bindparam("b_id"),
        deliveries.c.status == DeliveryStatus.RUNNING,
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


class SQLiteDeliveryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(self, ids: list[uuid.UUID], now: datetime, lease_until: datetime) -> list[Claim | None]:
        async with self.db.transaction() as conn:
            claimed = (await conn.execute(claim_statement(ids, now, lease_until))).all()
            message_rows = {}
            if claimed:
                found = await conn.execute(
                    sa.select(messages).where(messages.c.id.in_({r.message_id for r in claimed}))
                )
                message_rows = {m.id: m._mapping for m in found}
        return claims_in_order(
            ids, {r.delivery_id: claim_from_rows(r._mapping, message_rows[r.message_id]) for r in claimed}
        )

    async def close(self) -> None:
        return None

    async def record(self, records: list[Record]) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(_RECORD, [r.values for r in records])
            await conn.execute(delivery_attempts.insert(), [r.attempt for r in records])
            await conn.execute(audit_log.insert(), [r.audit for r in records])
