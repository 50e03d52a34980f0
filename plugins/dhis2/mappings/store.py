"""Reading and writing mappings: lookups for submissions, keyset pages, bulk upserts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from plugins.dhis2.models import data_value_mappings, org_unit_mappings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from core import Gateway

_KEYS_PER_QUERY = 500
# The largest id a BIGINT (and SQLite's INTEGER) holds: a larger one in a path names no row.
MAX_ID = 2**63 - 1
# Rows handed to the driver's executemany at once (bounds the memory of one call).
_ROWS_PER_BATCH = 5000


@dataclass(frozen=True)
class Kind:
    """One mapping table: its key, the columns an import writes, and the filters a list takes."""

    name: str
    table: sa.Table
    key: tuple[str, ...]
    fields: tuple[str, ...]
    filters: tuple[str, ...]


DATA_VALUES = Kind(
    "data_values",
    data_value_mappings,
    ("code", "dataset"),
    (
        "code",
        "dataset",
        "data_element",
        "category_option_combo",
        "attribute_option_combo",
        "category_option",
        "category_combo",
        "name",
        "description",
        "instance_name",
        "source_name",
    ),
    (
        "code",
        "dataset",
        "data_element",
        "category_option_combo",
        "attribute_option_combo",
        "instance_name",
        "source_name",
    ),
)
ORG_UNITS = Kind(
    "org_units",
    org_unit_mappings,
    ("code", "instance"),
    ("code", "instance", "org_unit", "name", "source_name"),
    ("code", "instance", "org_unit", "source_name"),
)


def as_dict(row: Any, kind: Kind) -> dict[str, Any]:
    """A mapping row as the API shows it."""
    data = {"id": row.id, **{f: getattr(row, f) for f in kind.fields}}
    data["created_at"] = row.created_at.isoformat()
    data["updated_at"] = row.updated_at.isoformat()
    return data


def _where(kind: Kind, filters: Mapping[str, str]) -> list[sa.ColumnElement[bool]]:
    table = kind.table
    clauses: list[sa.ColumnElement[bool]] = []
    for name, value in filters.items():
        column = table.c[name]
        clauses.append(column.is_(None) if value == "" and column.nullable else column == value)
    return clauses


def matching(kind: Kind, filters: Mapping[str, str], search: str | None = None) -> sa.Select[Any]:
    """The rows matching ``filters`` and ``search`` (a code prefix or a name's part, any case); not ordered."""
    table = kind.table
    query = sa.select(table).where(*_where(kind, filters))
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(
            sa.or_(
                table.c.code.like(f"{escaped}%", escape="\\"),
                sa.func.lower(table.c.name).like(f"%{escaped.lower()}%", escape="\\"),
            )
        )
    return query


async def page(
    conn: AsyncConnection,
    kind: Kind,
    filters: Mapping[str, str],
    *,
    limit: int,
    after: int | None,
    search: str | None = None,
) -> tuple[list[Any], int | None]:
    """One keyset page ordered by id; returns the rows and the id to continue after (or None).

    ``search`` keeps the rows whose code starts with it or whose name contains it (any case).
    """
    table = kind.table
    query = matching(kind, filters, search).order_by(table.c.id).limit(limit + 1)
    if after is not None:
        query = query.where(table.c.id > after)
    rows = list((await conn.execute(query)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].id if more and rows else None


async def batches(
    gateway: Gateway, kind: Kind, filters: Mapping[str, str], *, size: int = 5000
) -> AsyncIterator[list[Any]]:
    """Every matching row, in id order, a batch (one short transaction) at a time."""
    after: int | None = None
    while True:
        async with gateway.db.transaction() as conn:
            rows, after = await page(conn, kind, filters, limit=size, after=after)
        if rows:
            yield rows
        if after is None:
            return


async def get(conn: AsyncConnection, kind: Kind, mapping_id: int) -> Any:
    """One mapping row, or ``None``."""
    if not 0 <= mapping_id <= MAX_ID:
        return None
    return (await conn.execute(sa.select(kind.table).where(kind.table.c.id == mapping_id))).first()


async def delete(conn: AsyncConnection, kind: Kind, mapping_id: int) -> bool:
    """Delete one mapping row; ``False`` if there was none."""
    if not 0 <= mapping_id <= MAX_ID:
        return False
    result = await conn.execute(sa.delete(kind.table).where(kind.table.c.id == mapping_id))
    return bool(result.rowcount)


async def existing(conn: AsyncConnection, kind: Kind, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The stored rows with these keys, by key."""
    table = kind.table
    first = table.c[kind.key[0]]
    wanted = set(keys)
    found: dict[tuple[str, str], Any] = {}
    if conn.dialect.name == "postgresql":
        # A generic plan made while the table was small (a prepared statement reused by the
        # pooled connection) would compare every row with every IN-list value once the table
        # has grown; a plan made for these values does not. For this transaction only.
        await conn.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))
    firsts = sorted({a for a, _ in wanted})
    for i in range(0, len(firsts), _KEYS_PER_QUERY):
        rows = await conn.execute(sa.select(table).where(first.in_(firsts[i : i + _KEYS_PER_QUERY])))
        for row in rows:
            key = (getattr(row, kind.key[0]), getattr(row, kind.key[1]))
            if key in wanted:
                found[key] = row
    return found


async def upsert(conn: AsyncConnection, kind: Kind, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows, updating those whose key exists: one statement run for all rows (executemany)."""
    if not rows:
        return
    now = datetime.now(UTC)
    table = kind.table
    dialect = conn.dialect.name
    values = [{**{f: r.get(f) for f in kind.fields}, "created_at": now, "updated_at": now} for r in rows]
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    updates = {f: insert.excluded[f] for f in kind.fields if f not in kind.key}
    updates["updated_at"] = insert.excluded.updated_at
    statement = insert.on_conflict_do_update(index_elements=list(kind.key), set_=updates)
    for i in range(0, len(values), _ROWS_PER_BATCH):
        await conn.execute(statement, values[i : i + _ROWS_PER_BATCH])


async def data_value_mappings_for(
    conn: AsyncConnection, codes: Iterable[str], dataset: str | None, *, scope: tuple[str, str] | None = None
) -> dict[str, list[Any]]:
    """Mappings of these codes (in ``dataset`` when given), by code; several when ambiguous.

    A mapping without a data set (``dataset = ""``, from a dhis2gw file) applies to every data
    set, after those of ``dataset`` itself. ``scope``: only rows of this ``(instance_name,
    source_name)`` (dhis2gw's API reads only ``("default", "default")``).
    """
    table = data_value_mappings
    found: dict[str, list[Any]] = {}
    wanted = sorted(set(codes))
    for i in range(0, len(wanted), _KEYS_PER_QUERY):
        query = sa.select(table).where(table.c.code.in_(wanted[i : i + _KEYS_PER_QUERY]))
        if dataset is not None:
            query = query.where(table.c.dataset.in_([dataset, ""]))
        if scope is not None:
            query = query.where(table.c.instance_name == scope[0], table.c.source_name == scope[1])
        rows = (await conn.execute(query.order_by(table.c.id))).all()
        for row in sorted(rows, key=lambda r: r.dataset == ""):  # the data set's own first
            found.setdefault(row.code, []).append(row)
    return found


async def data_value_mappings_by_element(
    conn: AsyncConnection, elements: Iterable[str], dataset: str, *, scope: tuple[str, str] | None = None
) -> dict[str, list[Any]]:
    """Mappings of these data elements in ``dataset``, by data element (``mapping_scheme = "uid"``).

    Those of ``dataset`` itself when it has any, else those without a data set (``dataset = ""``).
    Several when the data element is mapped with several option combos. ``scope``: only rows of
    this ``(instance_name, source_name)``, as in ``data_value_mappings_for``.
    """
    table = data_value_mappings
    found: dict[str, list[Any]] = {}
    wanted = sorted(set(elements))
    for i in range(0, len(wanted), _KEYS_PER_QUERY):
        query = sa.select(table).where(
            table.c.data_element.in_(wanted[i : i + _KEYS_PER_QUERY]), table.c.dataset.in_([dataset, ""])
        )
        if scope is not None:
            query = query.where(table.c.instance_name == scope[0], table.c.source_name == scope[1])
        for row in (await conn.execute(query.order_by(table.c.id))).all():
            found.setdefault(row.data_element, []).append(row)
    return {element: [r for r in rows if r.dataset == dataset] or rows for element, rows in found.items()}


async def org_units_for(conn: AsyncConnection, codes: Iterable[str], instance: str) -> dict[str, str]:
    """The org unit uid of each code, for ``instance`` (a mapping for it beats one for every instance)."""
    table = org_unit_mappings
    wanted = sorted(set(codes))
    found: dict[str, str] = {}
    for i in range(0, len(wanted), _KEYS_PER_QUERY):
        rows = await conn.execute(
            sa.select(table.c.code, table.c.instance, table.c.org_unit).where(
                table.c.code.in_(wanted[i : i + _KEYS_PER_QUERY]), table.c.instance.in_(["", instance])
            )
        )
        for row in sorted(rows, key=lambda r: r.instance != ""):  # "" first, the instance's own last
            found[row.code] = row.org_unit
    return found
