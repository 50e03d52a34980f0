"""Reading the gateway's records: messages, deliveries, conversations, the audit log.

Lists are keyset-paginated on the primary key (time-ordered ids), newest first, in both directions, and filter
only on indexed columns, so a table of millions of rows pages as fast as one of hundreds.
The JSON API and the admin UI both read through here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from core.operations.filters import ConversationFilters, DeliveryFilters, LogFilters, MessageFilters, Page
from core.operations.paging import TOTAL_BOUND, bounded_total, keyset, ordered, read_page
from core.storage.db import Database, pairs_among
from core.storage.ids import uuid7_floor
from core.storage.models import audit_log, conversations, deliveries, delivery_attempts, messages

MESSAGE_FIELDS = (
    "id",
    "platform",
    "external_id",
    "direction",
    "kind",
    "sender",
    "sender_name",
    "recipient",
    "text",
    "media",
    "timestamp",
    "extra",
    "conversation_id",
    "received_at",
)
DELIVERY_FIELDS = (
    "id",
    "message_id",
    "destination",
    "platform",
    "status",
    "attempt_count",
    "max_attempts",
    "next_attempt_at",
    "last_error",
    "last_status_code",
    "remote_ref",
    "detail",
    "idempotency_key",
    "created_at",
    "updated_at",
    "delivered_at",
    # A requeue gives a fresh budget: how many there were, the last one's time, and attempt_count
    # when it was made (attempts in the current budget: attempt_count - budget_start).
    "requeues",
    "requeued_at",
    "budget_start",
)
ATTEMPT_FIELDS = (
    "number",
    "started_at",
    "duration_ms",
    "outcome",
    "status_code",
    "error",
    "response_excerpt",
    "remote_ref",
    "detail",
    "worker",
)


def _json(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _item(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    mapping = row._mapping
    return {f: _json(mapping[f]) for f in fields}


def _id_window(table: sa.Table, page: Page) -> list[sa.ColumnElement[bool]]:
    """Time bounds as bounds on a time-ordered id, so they use the primary key."""
    clauses = []
    if page.since is not None:
        clauses.append(table.c.id >= uuid7_floor(int(page.since.timestamp() * 1000)))
    if page.until is not None:
        clauses.append(table.c.id < uuid7_floor(int(page.until.timestamp() * 1000) + 1))
    return clauses


async def _page(
    db: Database, query: sa.Select[Any], table: sa.Table, page: Page, fields: tuple[str, ...], *, int_ids: bool = False
) -> dict[str, Any]:
    return await read_page(db, query, table, page, lambda row: _item(row, fields), int_ids=int_ids)


def _message_conditions(db: Database, f: MessageFilters) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of a message filter, the participant's aside (see ``list_messages``)."""
    clauses = _id_window(messages, f)
    for column, value in (
        ("platform", f.platform),
        ("kind", f.kind),
        ("direction", f.direction),
        ("conversation_id", f.conversation),
    ):
        if value is not None:
            clauses.append(messages.c[column] == value)
    if f.sender is not None:
        clauses.append(db.privacy.match(messages.c.sender, f.sender))
    return clauses


def _participant_ids(
    db: Database, f: MessageFilters, extra: list[sa.ColumnElement[bool]], newest_first: bool, limit: int
) -> sa.Subquery:
    """The ids of ``f``'s participant's messages as two keyset scans, one per index, each stopping after ``limit``:
    an OR in one WHERE would gather every message of the participant and sort them."""
    halves = [
        sa.select(messages.c.id)
        .where(*_message_conditions(db, f), *extra, db.privacy.match(messages.c[column], f.participant or ""))
        .order_by(ordered(messages, newest_first))
        .limit(limit)
        .subquery()
        for column in ("sender", "recipient")
    ]
    return sa.union(*(sa.select(h.c.id) for h in halves)).subquery()


async def list_messages(db: Database, f: MessageFilters) -> dict[str, Any]:
    query = sa.select(*(messages.c[n] for n in MESSAGE_FIELDS)).where(*_message_conditions(db, f))
    if f.participant is not None:
        clauses, newest_first = keyset(messages, f)
        ids = _participant_ids(db, f, clauses, newest_first, f.limit + 1)
        query = query.where(messages.c.id.in_(sa.select(ids.c.id)))
    return await _page(db, query, messages, f, MESSAGE_FIELDS)


async def count_messages(db: Database, f: MessageFilters, *, bound: int = TOTAL_BOUND) -> dict[str, Any]:
    """How many messages match ``f`` (its page aside), counted up to ``bound`` (``paging.bounded_total``)."""
    if f.participant is not None:
        # Each half stops after bound + 1 rows: past that, their union is past the bound too.
        ids = _participant_ids(db, f, [], True, bound + 1)
        return await bounded_total(db, sa.select(ids.c.id), bound)
    return await bounded_total(db, sa.select(messages.c.id).where(*_message_conditions(db, f)), bound)


async def get_message(db: Database, message_id: uuid.UUID) -> dict[str, Any] | None:
    async with db.transaction() as conn:
        row = (await conn.execute(sa.select(messages).where(messages.c.id == message_id))).first()
        if row is None:
            return None
        item = _item(row, (*MESSAGE_FIELDS, "raw"))
        rows = (
            await conn.execute(
                sa.select(deliveries).where(deliveries.c.message_id == message_id).order_by(deliveries.c.id)
            )
        ).all()
        attempts = await _attempts(conn, [r.id for r in rows])
    item["deliveries"] = [_item(r, DELIVERY_FIELDS) | {"attempts": attempts.get(r.id, [])} for r in rows]
    return item


async def _attempts(conn: Any, delivery_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    if not delivery_ids:
        return {}
    rows = await conn.execute(
        sa.select(delivery_attempts)
        .where(delivery_attempts.c.delivery_id.in_(delivery_ids))
        .order_by(delivery_attempts.c.delivery_id, delivery_attempts.c.number)
    )
    out: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r.delivery_id, []).append(_item(r, ATTEMPT_FIELDS) | {"exchanges": exchanges_of(r)})
    return out


def exchanges_of(attempt: Any) -> list[dict[str, Any]]:
    """An attempt's exchanges as ``[{"request": {...}, "response": {...}}]``, in the order made
    (core.pipeline.exchanges; stored redacted). ``[]`` when it recorded none."""
    requests, responses = attempt.request or [], attempt.response or []
    return [{"request": q, "response": a} for q, a in zip(requests, responses, strict=False)]


def delivery_conditions(f: DeliveryFilters) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of a delivery filter (shared by listing, bulk requeue and purge)."""
    clauses = _id_window(deliveries, f)
    if f.status:
        clauses.append(deliveries.c.status.in_(f.status))
    if f.destination is not None:
        clauses.append(deliveries.c.destination == f.destination)
    if f.platform is not None:
        clauses.append(deliveries.c.platform == f.platform)
    if f.message is not None:
        clauses.append(deliveries.c.message_id == f.message)
    return clauses


async def list_deliveries(db: Database, f: DeliveryFilters) -> dict[str, Any]:
    query = sa.select(*(deliveries.c[n] for n in DELIVERY_FIELDS)).where(*delivery_conditions(f))
    return await _page(db, query, deliveries, f, DELIVERY_FIELDS)


async def count_listed_deliveries(db: Database, f: DeliveryFilters, *, bound: int = TOTAL_BOUND) -> dict[str, Any]:
    """How many deliveries match ``f`` (its page aside), counted up to ``bound`` (``paging.bounded_total``)."""
    return await bounded_total(db, sa.select(deliveries.c.id).where(*delivery_conditions(f)), bound)


async def count_deliveries(db: Database, f: DeliveryFilters) -> int:
    """How many deliveries match ``f`` (what a bulk requeue or purge would touch)."""
    query = sa.select(sa.func.count()).select_from(deliveries).where(*delivery_conditions(f))
    async with db.transaction() as conn:
        return int((await conn.execute(query)).scalar_one())


async def get_delivery(db: Database, delivery_id: uuid.UUID) -> dict[str, Any] | None:
    async with db.transaction() as conn:
        row = (await conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id))).first()
        if row is None:
            return None
        message = (await conn.execute(sa.select(messages).where(messages.c.id == row.message_id))).first()
        attempts = await _attempts(conn, [row.id])
    item = _item(row, DELIVERY_FIELDS)
    item["attempts"] = attempts.get(row.id, [])
    item["message"] = _item(message, MESSAGE_FIELDS) if message is not None else None
    return item


CONVERSATION_FIELDS = (
    "id",
    "platform",
    "participant",
    "status",
    "opened_at",
    "last_message_at",
    "closed_at",
    "message_count",
    "state",
)


def _conversation_conditions(db: Database, f: ConversationFilters) -> list[sa.ColumnElement[bool]]:
    clauses = _id_window(conversations, f)
    for column, value in (("platform", f.platform), ("status", f.status)):
        if value is not None:
            clauses.append(conversations.c[column] == value)
    if f.participant is not None:
        clauses.append(db.privacy.match(conversations.c.participant, f.participant))
    return clauses


async def list_conversations(db: Database, f: ConversationFilters) -> dict[str, Any]:
    query = sa.select(conversations).where(*_conversation_conditions(db, f))
    return await _page(db, query, conversations, f, CONVERSATION_FIELDS)


async def count_conversations(db: Database, f: ConversationFilters, *, bound: int = TOTAL_BOUND) -> dict[str, Any]:
    """How many conversations match ``f`` (its page aside), counted up to ``bound``."""
    return await bounded_total(db, sa.select(conversations.c.id).where(*_conversation_conditions(db, f)), bound)


async def get_conversation(db: Database, conversation_id: uuid.UUID, *, recent: int = 20) -> dict[str, Any] | None:
    async with db.transaction() as conn:
        row = (await conn.execute(sa.select(conversations).where(conversations.c.id == conversation_id))).first()
    if row is None:
        return None
    item = _item(row, CONVERSATION_FIELDS)
    latest = await list_messages(db, MessageFilters(conversation=conversation_id, limit=recent))
    item["messages"] = latest["items"]
    item["messages_next"] = latest["next"]
    return item


LOG_FIELDS = (
    "id",
    "at",
    "kind",
    "action",
    "request_id",
    "actor",
    "actor_type",
    "method",
    "path",
    "status",
    "duration_ms",
    "client",
    "error",
)


def _log_conditions(f: LogFilters) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = []
    if f.since is not None:
        clauses.append(audit_log.c.at >= f.since)
    if f.until is not None:
        clauses.append(audit_log.c.at < f.until)
    user = f.user if f.user is None or ":" in f.user else f"user:{f.user}"
    for column, value in (("kind", f.kind), ("status", f.status), ("actor", user), ("action", f.action)):
        if value is not None:
            clauses.append(audit_log.c[column] == value)
    if f.endpoint is not None:
        clauses.append(audit_log.c.path == f.endpoint)
    if f.platform is not None:
        # A platform's traffic is its webhook's path (indexed), not a column of its own.
        clauses.append(audit_log.c.path == f"/webhooks/{f.platform}")
    return clauses


async def list_logs(db: Database, f: LogFilters) -> dict[str, Any]:
    query = sa.select(*(audit_log.c[n] for n in LOG_FIELDS)).where(*_log_conditions(f))
    return await _page(db, query, audit_log, f, LOG_FIELDS, int_ids=True)


async def count_logs(db: Database, f: LogFilters, *, bound: int = TOTAL_BOUND) -> dict[str, Any]:
    """How many audit entries match ``f`` (its page aside), counted up to ``bound``."""
    return await bounded_total(db, sa.select(audit_log.c.id).where(*_log_conditions(f)), bound)


async def get_log(db: Database, log_id: int) -> dict[str, Any] | None:
    """One audit entry with its detail; ``None`` if there is none (an id beyond a BIGINT included)."""
    if not 0 <= log_id <= 2**63 - 1:  # no such row, and the driver would refuse the parameter
        return None
    async with db.transaction() as conn:
        row = (await conn.execute(sa.select(audit_log).where(audit_log.c.id == log_id))).first()
    return None if row is None else _item(row, (*LOG_FIELDS, "detail"))


# Every lookup of search() reads an index: the primary keys, (platform, external_id) once per platform
# (an external id is unique per platform only), (sender, id) and (recipient, id) as a range for a prefix.
# A prefix shorter than this would match too much to be a search.
MIN_PREFIX = 3


async def search(db: Database, text: str, platforms: Iterable[str], *, limit: int = 20) -> dict[str, Any]:
    """One search box: a message by its id, its external id (a wamid, a case reference, a submission id) or a
    participant's prefix; a delivery by its id. ``{"messages": [...], "deliveries": [...]}`` matching ``text`` (trimmed), newest first within each kind."""
    text = text.strip()
    found: dict[str, Any] = {"messages": [], "deliveries": []}
    if not text:
        return found
    rows: dict[Any, Any] = {}
    async with db.transaction() as conn:
        try:
            exact = uuid.UUID(text)
        except ValueError:
            exact = None
        if exact is not None:
            for row in await conn.execute(sa.select(messages).where(messages.c.id == exact)):
                rows[row.id] = row
            delivery = (await conn.execute(sa.select(deliveries).where(deliveries.c.id == exact))).first()
            if delivery is not None:
                found["deliveries"].append(_item(delivery, DELIVERY_FIELDS))
        pairs = [(p, text) for p in sorted(set(platforms))]
        if pairs:
            query = sa.select(messages).where(pairs_among(messages.c.platform, messages.c.external_id, pairs))
            for row in await conn.execute(query):
                rows[row.id] = row
        if db.privacy.enabled:
            # Identifiers are stored sealed ([privacy] key): only the whole identifier can be found.
            for column in (messages.c.sender, messages.c.recipient):
                query = (
                    sa.select(messages)
                    .where(db.privacy.match(column, text))
                    .order_by(messages.c.id.desc())
                    .limit(limit)
                )
                for row in await conn.execute(query):
                    rows[row.id] = row
        elif len(text) >= MIN_PREFIX:
            # A range on the index rather than LIKE: the same plan on SQLite and PostgreSQL, whatever the collation.
            for column in (messages.c.sender, messages.c.recipient):
                query = (
                    sa.select(messages)
                    .where(column >= text, column < text + "\U0010ffff")
                    .order_by(column, messages.c.id.desc())
                    .limit(limit)
                )
                for row in await conn.execute(query):
                    rows[row.id] = row
    items = sorted(rows.values(), key=lambda r: r.id, reverse=True)[:limit]
    found["messages"] = [_item(r, MESSAGE_FIELDS) for r in items]
    return found
