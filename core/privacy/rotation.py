"""``switchboard privacy rotate-key``: everything sealed again with the current key.

Every table of the core and of the enabled plugins is walked in primary-key order, a batch at
a time; a row whose sealed columns all name the current key already is skipped, so the command
can be stopped and run again (it resumes by skipping what is done). A value stored in clear
(before a key was configured) is sealed too. Then every sealed file under ``[server] data_dir``.
When all is done, the keys it replaced are retired: they may be removed from ``previous_keys``.

The gateway keeps running meanwhile: reads open a value with whichever key it names, and
participant lookups (``Privacy.match``) match every configured key's form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import ConfigError
from core.privacy.columns import sealed_columns
from core.privacy.keys import FILE_MAGIC, STREAM_MAGIC, Keyring, sealed_key_id
from core.privacy.registry import retire_others
from core.storage.db import Database


@dataclass
class Rotation:
    """What a run re-sealed: rows per table, files, and the keys retired at its end."""

    rows: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    files: int = 0
    retired: list[str] = field(default_factory=list)


def _stale(raw: Any, keyring: Keyring) -> bool:
    """Whether a stored value (as text) is not sealed with the current key."""
    if raw is None:
        return False
    text = str(raw)
    if text.startswith('"'):
        text = text[1:]  # a JSON column's sealed value is a JSON string
    elif text in ("null", "", "{}", "[]"):
        return False  # nothing to seal (SealedJSON leaves an empty document as it is)
    return sealed_key_id(text) != keyring.current.id


def _key_columns(table: sa.Table) -> list[tuple[str, sa.ColumnElement[Any], sa.types.TypeEngine[Any]]]:
    """The primary key as (name, expression, bind type): a sealed key column as its stored text
    (a key read back opened would be sealed anew, with the current key, and match nothing)."""
    sealed = {c.name for c in sealed_columns(table)}
    out: list[tuple[str, sa.ColumnElement[Any], sa.types.TypeEngine[Any]]] = []
    for c in table.primary_key.columns:
        if c.name in sealed:
            out.append((f"k_{c.name}", sa.cast(c, sa.Text), sa.Text()))
        else:
            out.append((f"k_{c.name}", c, c.type))
    return out


async def _reseal(conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]], now: datetime) -> None:
    """Write ``rows`` (clear values: the columns' types seal them with the current key)."""
    where = [expr == sa.bindparam(name, type_=type_) for name, expr, type_ in _key_columns(table)]
    for row in rows:
        values = {name: value for name, value in row.items() if not name.startswith("k_")}
        key = {name: value for name, value in row.items() if name.startswith("k_")}
        try:
            async with conn.begin_nested():
                await conn.execute(sa.update(table).where(*where).values(**values), key)
        except IntegrityError:
            # The same identifier was written under the current key meanwhile (a row made during
            # the rotation): the newer row stands. An open conversation is closed, anything else
            # (a counter, an opt-out state) is the older copy and goes.
            async with conn.begin_nested():
                if table.name == "conversations":
                    closed = {"status": "closed", "closed_at": now}
                    await conn.execute(sa.update(table).where(*where).values(**values, **closed), key)
                else:
                    await conn.execute(sa.delete(table).where(*where), key)


async def rotate_table(
    db: Database, table: sa.Table, keyring: Keyring, *, batch: int, progress: Callable[[str], None]
) -> tuple[int, int]:
    """Re-seal ``table``'s stale rows; (rows re-sealed, rows already on the current key)."""
    columns = sealed_columns(table)
    key_columns = _key_columns(table)
    if not columns or not key_columns:
        return 0, 0
    raw = [sa.cast(c, sa.Text).label(f"raw_{c.name}") for c in columns]
    keys = [expr.label(name) for name, expr, _ in key_columns]
    after: tuple[Any, ...] | None = None
    done = skipped = 0
    now = datetime.now(UTC)
    while True:
        query = sa.select(*keys, *columns, *raw).order_by(*(expr for _, expr, _ in key_columns)).limit(batch)
        if after is not None:
            query = query.where(
                sa.tuple_(*(expr for _, expr, _ in key_columns))
                > sa.tuple_(*(sa.literal(v, t) for v, (_, _, t) in zip(after, key_columns, strict=True)))
            )
        async with db.transaction() as conn:
            rows = (await conn.execute(query)).mappings().all()
            if not rows:
                break
            stale = [
                {c.name: row[c.name] for c in columns} | {name: row[name] for name, _, _ in key_columns}
                for row in rows
                if any(_stale(row[f"raw_{c.name}"], keyring) for c in columns)
            ]
            skipped += len(rows) - len(stale)
            if stale:
                await _reseal(conn, table, stale, now)
            done += len(stale)
        # The next batch starts after this one's last key as read (a re-sealed key sorts anew:
        # it is on the current key, and skipped if met again).
        after = tuple(rows[-1][name] for name, _, _ in key_columns)
        progress(f"{table.name}: {done} re-sealed, {skipped} already on the current key")
    return done, skipped


class _Chunks:
    """A file-like ``read(n)`` over an iterator of byte chunks (one opened file fed to ``seal_stream``)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


def rotate_files(data_dir: Path, keyring: Keyring, progress: Callable[[str], None]) -> int:
    """Re-seal every sealed file under ``data_dir`` not on the current key (a clear file stays:
    only a plugin knows which of its files hold personal data; it seals them when it writes)."""
    count = 0
    if not data_dir.is_dir():
        return 0
    head = len(FILE_MAGIC)
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        with path.open("rb") as file:
            start = file.read(head + 8)
        sealed = start.startswith(FILE_MAGIC) or start.startswith(STREAM_MAGIC)
        if not sealed or start[head:].decode("ascii", "replace") == keyring.current.id:
            continue
        fresh = path.with_name(path.name + ".rotating")
        if start.startswith(STREAM_MAGIC):  # a large file: re-sealed a chunk at a time
            with path.open("rb") as old, fresh.open("wb") as new:
                keyring.seal_stream(_Chunks(keyring.open_stream(old)), new)
        else:
            fresh.write_bytes(keyring.seal_bytes(keyring.open_bytes(path.read_bytes())))
        fresh.replace(path)  # atomic: a reader sees the old file or the new one
        count += 1
    if count:
        progress(f"files: {count} re-sealed")
    return count


async def rotate(
    db: Database,
    tables: Iterable[sa.Table],
    data_dir: Path | None,
    *,
    batch: int = 500,
    progress: Callable[[str], None] = lambda line: None,
) -> Rotation:
    keyring = db.privacy.keyring
    if keyring is None:
        raise ConfigError("[privacy] key: not set; rotate-key seals with the key set there (docs/privacy.md)")
    result = Rotation()
    # Conversations first: ingest finds a participant's open conversation by its current form.
    ordered = sorted(tables, key=lambda t: (t.name != "conversations", t.name))
    for table in ordered:
        done, skipped = await rotate_table(db, table, keyring, batch=batch, progress=progress)
        if done or skipped:
            result.rows[table.name] = done
            result.skipped[table.name] = skipped
    if data_dir is not None:
        result.files = rotate_files(data_dir, keyring, progress)
    result.retired = await retire_others(db)
    return result
