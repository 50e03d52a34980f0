"""Reading and writing the plugin's tables (``ceemis_cases``, ``ceemis_case_updates``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from core import StandardMessage, uuid7
from plugins.ceemis import conversations
from plugins.ceemis.models import case_updates, cases
from plugins.ceemis.payloads import CREATE, HELPLINE, UPDATE
from plugins.ceemis.settings import ConversationSettings

# States in which nothing more will happen to a create or an update by itself.
FINAL = ("delivered", "failed")


def is_helpline_case(message: StandardMessage) -> bool:
    """A create or update from the helpline (what the ``ceemis`` destination sends)."""
    return message.platform == HELPLINE and message.kind in (CREATE, UPDATE) and "ceemis" in message.extra


def _table(message: StandardMessage) -> sa.Table:
    return cases if message.kind == CREATE else case_updates


def _row_of(message: StandardMessage, state: str, now: datetime) -> dict[str, Any]:
    info = message.extra["ceemis"]
    row = {
        "external_id": message.external_id,
        "message_id": message.id,
        "state": state,
        "received_at": message.timestamp,
        "updated_at": now,
    }
    if message.kind == CREATE:
        return {**row, "src": info["src"], "src_uid": info["src_uid"], "src_callid": info["src_callid"]}
    return {**row, "ref": info["ref"], "status": info.get("status")}


async def _insert_missing(conn: AsyncConnection, message: StandardMessage, state: str) -> sa.Row[Any]:
    """The row of the message's external id, inserted with ``state`` if there is none."""
    table = _table(message)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(_row_of(message, state, datetime.now(UTC)))
    await conn.execute(statement.on_conflict_do_nothing(index_elements=["external_id"]))
    return (await conn.execute(sa.select(table).where(table.c.external_id == message.external_id))).one()


async def receive(conn: AsyncConnection, message: StandardMessage) -> None:
    """Record a case or update as it is received, before the core stores its message.

    The message takes the id its row holds: a helpline retry of a case already received names
    the same message, which the core then finds to be a duplicate (or stores, if the first
    try's commit failed), so the row always names the stored message.
    """
    message.id = message.id or uuid7()
    message.id = (await _insert_missing(conn, message, "received")).message_id


async def turn_of(
    conn: AsyncConnection, message: StandardMessage, conversation_id: uuid.UUID, settings: ConversationSettings
) -> StandardMessage | None:
    """The case create or update a conversation's message was recorded as (``None``: not yet)."""
    for table, make in ((cases, conversations.as_create), (case_updates, conversations.as_update)):
        if (await conn.execute(sa.select(table.c.id).where(table.c.message_id == message.id))).first():
            return make(message, conversation_id, settings)
    return None


async def record_turn(
    conn: AsyncConnection, message: StandardMessage, conversation_id: uuid.UUID, settings: ConversationSettings
) -> StandardMessage:
    """Record a conversation's message as its case's create (the first recorded of the
    conversation) or as an update of that case (every later one); the case message it is."""
    recorded = await turn_of(conn, message, conversation_id, settings)
    if recorded is not None:
        return recorded
    create = conversations.as_create(message, conversation_id, settings)
    if (await _insert_missing(conn, create, "queued")).message_id == message.id:
        return create
    update = conversations.as_update(message, conversation_id, settings)
    await _insert_missing(conn, update, "queued")
    return update


async def routed(conn: AsyncConnection, message_ids: list[uuid.UUID]) -> None:
    """Cases and updates whose messages were given a ``ceemis`` delivery: received → queued."""
    for table in (cases, case_updates):
        await conn.execute(
            sa.update(table)
            .where(table.c.message_id.in_(message_ids), table.c.state == "received")
            .values(state="queued", updated_at=datetime.now(UTC))
        )


async def row_of(conn: AsyncConnection, message: StandardMessage) -> sa.Row[Any]:
    """The row of a create or update message (recorded now if it was not)."""
    return await _insert_missing(conn, message, "queued")


async def change(conn: AsyncConnection, message: StandardMessage, **values: Any) -> None:
    """Set columns of a message's row (``updated_at`` too); the end of a send releases its hold."""
    table = _table(message)
    if values.get("state") in ("delivered", "failed", "retrying"):
        values["sending_until"] = None
    await conn.execute(
        sa.update(table).where(table.c.message_id == message.id).values(updated_at=datetime.now(UTC), **values)
    )


async def remember_form(conn: AsyncConnection, case_row_id: int, fields: dict[str, str]) -> None:
    """Lay a delivered update's form ``fields`` over its case's form (read and written in one
    transaction; a case's updates are sent one at a time, in order)."""
    current = (await conn.execute(sa.select(cases.c.form).where(cases.c.id == case_row_id))).scalar_one_or_none()
    merged = {**(current or {}), **fields}
    await conn.execute(sa.update(cases).where(cases.c.id == case_row_id).values(form=merged))


async def start_send(conn: AsyncConnection, message: StandardMessage, hold: float) -> int | None:
    """Take the message's row for one send (for ``hold`` seconds) and count it; how many sends
    there have been, or ``None`` when it is delivered or another attempt is sending it now."""
    table = _table(message)
    now = datetime.now(UTC)
    taken = await conn.execute(
        sa.update(table)
        .where(
            table.c.message_id == message.id,
            table.c.state != "delivered",
            sa.or_(table.c.sending_until.is_(None), table.c.sending_until < now),
        )
        .values(
            attempts=table.c.attempts + 1, state="sending", sending_until=now + timedelta(seconds=hold), updated_at=now
        )
    )
    if taken.rowcount != 1:
        return None
    return int((await conn.execute(sa.select(table.c.attempts).where(table.c.message_id == message.id))).scalar_one())


async def restart_sends(conn: AsyncConnection, message: StandardMessage) -> None:
    """Count the message's sends from zero again (a requeue's fresh budget); a delivered one stays."""
    table = _table(message)
    await conn.execute(
        sa.update(table)
        .where(table.c.message_id == message.id, table.c.state != "delivered")
        .values(attempts=0, updated_at=datetime.now(UTC))
    )


async def find_case(conn: AsyncConnection, reference: str) -> sa.Row[Any] | None:
    """The case a reference names: the helpline's src_uid or src_callid, the gateway's message id,
    or the CEEMIS id. The oldest case wins if a reference is ambiguous."""
    conditions = [cases.c.src_uid == reference, cases.c.src_callid == reference, cases.c.ceemis_id == reference]
    try:
        conditions.append(cases.c.message_id == uuid.UUID(reference))
    except ValueError:
        pass
    query = sa.select(cases).where(sa.or_(*conditions)).order_by(cases.c.id).limit(1)
    return (await conn.execute(query)).first()


def references(case: sa.Row[Any] | None, ref: str) -> list[str]:
    """Every reference that names the same case as ``ref``."""
    if case is None:
        return [ref]
    names = {ref, case.src_uid, case.src_callid, str(case.message_id)}
    if case.ceemis_id:
        names.add(case.ceemis_id)
    return sorted(names)


async def earlier_pending(conn: AsyncConnection, update: sa.Row[Any], refs: list[str]) -> sa.Row[Any] | None:
    """The first update of the same case received before ``update`` that is not yet delivered or failed."""
    earlier = sa.or_(
        case_updates.c.received_at < update.received_at,
        sa.and_(case_updates.c.received_at == update.received_at, case_updates.c.id < update.id),
    )
    query = (
        sa.select(case_updates)
        .where(case_updates.c.ref.in_(refs), earlier, case_updates.c.state.not_in(FINAL))
        .order_by(case_updates.c.received_at, case_updates.c.id)
        .limit(1)
    )
    return (await conn.execute(query)).first()


async def updates_of(conn: AsyncConnection, refs: list[str]) -> list[sa.Row[Any]]:
    """The updates naming any of ``refs``, in the order received."""
    query = (
        sa.select(case_updates)
        .where(case_updates.c.ref.in_(refs))
        .order_by(case_updates.c.received_at, case_updates.c.id)
    )
    return list(await conn.execute(query))


def all_cases() -> sa.Select[Any]:
    """Every case (a list pages it on ``cases.c.id``, newest first)."""
    return sa.select(cases)
