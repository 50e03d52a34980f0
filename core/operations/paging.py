"""Keyset pages in both directions, and totals counted with a bound.

A page is the rows older than ``cursor`` (newest first), or the rows just newer than ``before``:
those are read oldest first from the cursor, so the index stops after a page, and turned round.
Either way a page carries ``next`` (the cursor of the older page) and ``newer`` (the ``before``
cursor of the newer page), so a list can be walked back the way it came.

A total counts at most ``bound + 1`` rows of the filtered query (a ``LIMIT`` subquery): a
million-row table answers "more than ``bound``" as fast as a small one answers its count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from core.operations.filters import Page
from core.storage.cursors import decode_cursor, decode_int_cursor, encode_cursor
from core.storage.db import Database

# The default bound of a total: past it, a list says "more than" this.
TOTAL_BOUND = 10_000


def keyset(table: sa.Table, page: Page, *, int_ids: bool = False) -> tuple[list[sa.ColumnElement[bool]], bool]:
    """The cursor's WHERE clause and whether the rows are read newest first (``False``: a ``before`` page)."""
    decode: Callable[[str], Any] = decode_int_cursor if int_ids else decode_cursor
    if page.before:
        return [table.c.id > decode(page.before)], False
    if page.cursor:
        return [table.c.id < decode(page.cursor)], True
    return [], True


def ordered(table: sa.Table, newest_first: bool) -> sa.UnaryExpression[Any]:
    return table.c.id.desc() if newest_first else table.c.id.asc()


async def read_page(
    db: Database,
    query: sa.Select[Any],
    table: sa.Table,
    page: Page,
    item: Callable[[Any], dict[str, Any]],
    *,
    int_ids: bool = False,
) -> dict[str, Any]:
    """``{"items": [...] newest first, "next": older page's cursor, "newer": newer page's before cursor}``."""
    clauses, newest_first = keyset(table, page, int_ids=int_ids)
    query = query.where(*clauses).order_by(ordered(table, newest_first)).limit(page.limit + 1)
    async with db.transaction() as conn:
        rows = (await conn.execute(query)).all()
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    if newest_first:
        older, newer = more, bool(page.cursor)
    else:
        rows.reverse()
        older, newer = True, more  # a before page ends at the cursor's row, which is older
    return {
        "items": [item(r) for r in rows],
        "next": encode_cursor(rows[-1].id) if older and rows else None,
        "newer": encode_cursor(rows[0].id) if newer and rows else None,
    }


async def bounded_total(db: Database, ids: sa.Select[Any], bound: int) -> dict[str, Any]:
    """``{"count": n, "more": bool}``: how many rows ``ids`` (one column, filtered) selects, at most ``bound``;
    ``more`` when there are more than ``bound`` (``count`` is then ``bound``)."""
    counted = sa.select(sa.func.count()).select_from(ids.limit(bound + 1).subquery())
    async with db.transaction() as conn:
        n = int((await conn.execute(counted)).scalar_one())
    return {"count": min(n, bound), "more": n > bound, "bound": bound}


@dataclass(frozen=True)
class KeysetPage:
    """A page of rows in list order, with the keys to ask for the next and the previous page."""

    rows: list[Any]
    next: Any  # the key to pass as ``cursor`` for the page after this one; None on the last
    previous: Any  # the key to pass as ``before`` for the page before this one; None on the first


async def keyset_page(
    conn: AsyncConnection,
    query: sa.Select[Any],
    key: sa.ColumnElement[Any],
    *,
    limit: int,
    cursor: Any = None,
    before: Any = None,
    descending: bool = True,
) -> KeysetPage:
    """A keyset page of ``query`` (filtered, not yet ordered or limited) ordered on ``key`` (unique).

    The rows after ``cursor``, or the rows just before ``before`` (read the other way from it, so
    the index stops after a page, and turned round), ``limit`` of them in list order (``descending``:
    newest first for time-ordered ids). ``next`` and ``previous`` are raw key values: a list page
    passes them back as its ``cursor`` and ``before`` query parameters (Older and Newer).
    """
    forward = before is None
    if forward and cursor is not None:
        query = query.where(key < cursor if descending else key > cursor)
    elif not forward:
        query = query.where(key > before if descending else key < before)
    order = key.desc() if descending == forward else key.asc()
    rows = list((await conn.execute(query.order_by(order).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    if forward:
        has_next, has_previous = more, cursor is not None
    else:
        rows.reverse()
        has_next, has_previous = True, more  # a before page ends at the row before ``before``
    return KeysetPage(
        rows=rows,
        next=rows[-1]._mapping[key] if has_next and rows else None,
        previous=rows[0]._mapping[key] if has_previous and rows else None,
    )


async def count_at_most(conn: AsyncConnection, query: sa.Select[Any], bound: int = TOTAL_BOUND) -> dict[str, Any]:
    """``{"count", "more", "bound"}``: how many rows ``query`` (filtered) selects, counted up to ``bound``
    (a list's total: "more than ``bound``" costs no more than ``bound`` rows read)."""
    counted = sa.select(sa.func.count()).select_from(query.limit(bound + 1).subquery())
    n = int((await conn.execute(counted)).scalar_one())
    return {"count": min(n, bound), "more": n > bound, "bound": bound}
