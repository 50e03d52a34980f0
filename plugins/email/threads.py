"""Threads: which conversation a Message-ID belongs to, and what a reply must reference."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from plugins.email.models import message_ids, threads

_MSGID = re.compile(r"<[^<>\s]+>")
MAX_REFS = 20  # References keeps the first and the latest ids, as RFC 5322 suggests trimming


def ids_in(value: str | None) -> list[str]:
    """The ``<id>`` tokens of an In-Reply-To or References header, in order."""
    return _MSGID.findall(value or "")


@dataclass(frozen=True, slots=True)
class Thread:
    key: str
    reply_to: str
    subject: str
    last_message_id: str
    refs: list[str]


async def key_of(conn: AsyncConnection, referenced: list[str]) -> str | None:
    """The thread of the newest referenced Message-ID we know, if any."""
    if not referenced:
        return None
    rows = (
        await conn.execute(
            sa.select(message_ids.c.message_id, message_ids.c.thread_key).where(
                message_ids.c.message_id.in_(referenced)
            )
        )
    ).all()
    known: dict[str, str] = {r.message_id: r.thread_key for r in rows}
    for mid in reversed(referenced):  # In-Reply-To last: the most direct parent wins
        if mid in known:
            return known[mid]
    return None


async def find(conn: AsyncConnection, key: str) -> Thread | None:
    row = (await conn.execute(sa.select(threads).where(threads.c.key == key))).first()
    if row is None:
        return None
    return Thread(row.key, row.reply_to, row.subject, row.last_message_id, row.refs.split())


def _trim(refs: list[str]) -> list[str]:
    unique = list(dict.fromkeys(refs))
    return unique if len(unique) <= MAX_REFS else [unique[0], *unique[-(MAX_REFS - 1) :]]


async def record(
    conn: AsyncConnection,
    key: str,
    message_id: str,
    *,
    subject: str,
    refs: list[str],
    reply_to: str | None = None,
) -> None:
    """Add ``message_id`` to thread ``key`` and make it the one a reply answers.

    A Message-ID recorded already changes nothing: recording it again (a reply re-sent after a
    crash, an inbound mail recorded late) must not make an older mail the one replies answer.
    """
    now = datetime.now(UTC)
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    added = await conn.execute(
        insert(message_ids)
        .values(message_id=message_id, thread_key=key, created_at=now)
        .on_conflict_do_nothing(index_elements=["message_id"])
    )
    if added.rowcount == 0:
        return
    # The thread row first (if new), then updated under its row lock: concurrent records of one
    # thread each see the other's References.
    await conn.execute(
        insert(threads)
        .values(key=key, reply_to=reply_to or key, subject=subject, last_message_id=message_id, refs="", updated_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    query = sa.select(threads.c.refs).where(threads.c.key == key)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    current = (await conn.execute(query)).scalar_one()
    chain = _trim([*current.split(), *refs, message_id])
    values: dict[str, Any] = {"last_message_id": message_id, "refs": " ".join(chain), "updated_at": now}
    if reply_to:
        values["reply_to"] = reply_to
    await conn.execute(threads.update().where(threads.c.key == key).values(**values))
