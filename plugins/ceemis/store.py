"""Reading and writing the plugin's tables (``ceemis_cases``, ``ceemis_case_updates``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from core import StandardMessage
from plugins.ceemis.models import case_updates, cases
from plugins.ceemis.payloads import CREATE, HELPLINE, UPDATE

# States in which nothing more will happen to a create or an update by itself.
FINAL = ("delivered", "failed")


def is_helpline_case(message: StandardMessage) -> bool:
    """A create or update from the helpline (what the ``ceemis`` destination sends)."""
    return message.platform == HELPLINE and message.kind in (CREATE, UPDATE) and "ceemis" in message.extra


async def _insert_missing(conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(rows).on_conflict_do_nothing(index_elements=["message_id"])
    await conn.execute(statement)


def _row_of(message: StandardMessage, state: str, now: datetime) -> tuple[sa.Table, dict[str, Any]]:
    info = message.extra["ceemis"]
    common = {"message_id": message.id, "state": state, "received_at": message.timestamp, "updated_at": now}
    if message.kind == CREATE:
        return cases, {**common, "src": info["src"], "src_uid": info["src_uid"], "src_callid": info["src_callid"]}
    return case_updates, {**common, "ref": info["ref"], "status": info.get("status")}


async def record(conn: AsyncConnection, items: list[tuple[StandardMessage, bool]]) -> None:
    """Rows for helpline cases and updates not yet recorded: (message, has a delivery) pairs.

    A row already there (the destination may have got to it first) is left alone.
    """
    now = datetime.now(UTC)
    by_table: dict[str, list[dict[str, Any]]] = {cases.name: [], case_updates.name: []}
    for message, routed in items:
        table, row = _row_of(message, "queued" if routed else "received", now)
        by_table[table.name].append(row)
    await _insert_missing(conn, cases, by_table[cases.name])
    await _insert_missing(conn, case_updates, by_table[case_updates.name])


async def row_of(conn: AsyncConnection, message: StandardMessage) -> sa.Row[Any]:
    """The row of a create or update message, recorded now if it is missing."""
    await record(conn, [(message, True)])
    table = cases if message.kind == CREATE else case_updates
    return (await conn.execute(sa.select(table).where(table.c.message_id == message.id))).one()


async def change(conn: AsyncConnection, message: StandardMessage, **values: Any) -> None:
    """Set columns of a message's row (``updated_at`` too)."""
    table = cases if message.kind == CREATE else case_updates
    await conn.execute(
        sa.update(table).where(table.c.message_id == message.id).values(updated_at=datetime.now(UTC), **values)
    )


async def count_attempt(conn: AsyncConnection, message: StandardMessage) -> int:
    """Count one more real send of the message; returns how many there have been."""
    table = cases if message.kind == CREATE else case_updates
    await conn.execute(
        sa.update(table)
        .where(table.c.message_id == message.id)
        .values(attempts=table.c.attempts + 1, state="sending", updated_at=datetime.now(UTC))
    )
    return int(
        (await conn.execute(sa.select(table.c.attempts).where(table.c.message_id == message.id))).scalar_one()
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
