"""Engine and sessions. One ``Database`` per app; nothing module-level."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from core.settings import DatabaseSettings


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets readers run beside the writer; busy_timeout waits for the write lock
    # rather than failing at once when the API and the local worker write together.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(settings: DatabaseSettings) -> AsyncEngine:
    if settings.is_sqlite:
        database = sa.engine.make_url(settings.url).database
        if database and database != ":memory:":
            # The embedded default should just work: create the file's folder.
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(settings.url, echo=settings.echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        settings.url,
        echo=settings.echo,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        # No pre-ping: it costs a round trip per transaction on the hot path. Stale
        # connections are recycled instead, and a failed one is discarded by the pool.
        pool_recycle=1800,
    )


class Database:
    """An engine and its session factory."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        self.engine = make_engine(settings)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection in a transaction: committed on exit, rolled back on error."""
        async with self.engine.begin() as conn:
            yield conn

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def pg_uuid(value: Any) -> uuid.UUID:
    """A ``uuid.UUID`` from what raw asyncpg returns for a uuid column (its own UUID type)."""
    return value if type(value) is uuid.UUID else uuid.UUID(bytes=value.bytes)


def unnest_args(rows: list[dict[str, Any]], names: tuple[str, ...], json_columns: frozenset[str]) -> list[list[Any]]:
    """The column arrays of ``rows`` for ``unnest_insert``'s statement (JSON columns as text)."""
    return [
        [json.dumps(row[n], default=str) if row[n] is not None else None for row in rows]
        if n in json_columns
        else [row[n] for row in rows]
        for n in names
    ]


@functools.cache
def unnest_insert(table: sa.Table, names: tuple[str, ...], first: int = 1) -> tuple[str, frozenset[str]]:
    """PostgreSQL ``INSERT INTO table (names) SELECT * FROM unnest($first::type[], …)`` and its JSON columns."""
    dialect = postgresql.dialect()
    casts = []
    json_columns = set()
    for i, name in enumerate(names, start=first):
        column = table.c[name]
        kind = column.type.compile(dialect=dialect)
        if kind in ("JSON", "JSONB"):
            json_columns.add(name)
        casts.append(f"${i}::{kind}[]")
    columns = ", ".join(f'"{n}"' for n in names)
    # Only the table's own column names reach the text (table.c[name] above rejects others).
    return f'INSERT INTO "{table.name}" ({columns}) SELECT * FROM unnest({", ".join(casts)})', frozenset(  # noqa: S608
        json_columns
    )
