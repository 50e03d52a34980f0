"""Engine and sessions. One ``Database`` per app; nothing module-level."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement

from core.config.settings import DatabaseSettings, PrivacySettings
from core.privacy import Privacy
from core.privacy.columns import set_keyring
from core.storage.storable import storable, storable_escapes, storable_json, storable_parameters


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
    # hide_parameters: a statement's values (numbers, names, message text) stay out of the
    # errors SQLAlchemy raises, which are logged with their tracebacks, and out of ``echo``.
    if settings.is_sqlite:
        database = sa.engine.make_url(settings.url).database
        if database and database != ":memory:":
            # The embedded default should just work: create the file's folder.
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            settings.url, echo=settings.echo, json_serializer=storable_json, hide_parameters=True
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        engine = create_async_engine(
            settings.url,
            echo=settings.echo,
            json_serializer=storable_json,
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            # A connection the server dropped while it sat in the pool (a restart, a failover,
            # pg_terminate_backend) is found at checkout and replaced, rather than failing the
            # request that drew it. Stale connections are recycled too.
            pool_pre_ping=True,
            pool_recycle=1800,
            hide_parameters=True,
        )
    # The storage boundary: no statement fails on a NUL or a lone surrogate (core.storage.storable).
    event.listen(engine.sync_engine, "before_cursor_execute", storable_parameters, retval=True)
    return engine


class Database:
    """An engine and its session factory."""

    def __init__(self, settings: DatabaseSettings, privacy: Privacy | None = None) -> None:
        self.settings = settings
        self.engine = make_engine(settings)
        # How participants are matched; its data key seals personal data in this engine's
        # columns (core.privacy.columns), none: stored in clear.
        self.privacy = privacy or Privacy(PrivacySettings())
        set_keyring(self.engine.dialect, self.privacy.keyring)
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


def json_rows(rows: list[dict[str, Any]]) -> str:
    """Rows as one JSON array for ``jsonb_to_recordset`` (ids and times as PostgreSQL reads them).

    One text parameter per table instead of an array per column: asyncpg checks every array
    element against ``collections.abc``, and orjson encodes ids and times natively
    (3 µs per ingested message, against 44 µs through the standard library's callback).

    Text is made storable (``core.storage.storable``): an escaped NUL becomes U+FFFD, and so does
    a lone surrogate, which orjson refuses to encode (only then are the rows walked).
    """
    try:
        text = _dumps(rows)
    except (TypeError, orjson.JSONEncodeError):
        rows = storable(rows)
        try:
            text = _dumps(rows)
        except (TypeError, orjson.JSONEncodeError):  # what orjson refuses (integers beyond 64 bits)
            text = json.dumps(rows, default=_json_value, separators=(",", ":"))
    return storable_escapes(text)


def _dumps(rows: list[dict[str, Any]]) -> str:
    return orjson.dumps(rows, default=str, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_NAIVE_UTC).decode()


def _json_value(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def recordset(table: sa.Table, names: Sequence[str], param: int, alias: str = "r", extra: str = "") -> str:
    """``jsonb_to_recordset($param::jsonb) AS alias(name type, …)`` with the table's own column
    types (``extra``: more definitions, e.g. a key that is not a column).

    jsonb, not json: the document is parsed once, and a row's jsonb values (a message's
    ``raw``, ``extra``) are taken as they are instead of each being parsed again from its
    text (1,000 device messages: 6.5 ms instead of 15 ms of the server's time).
    """
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    defs = [f'"{n}" {table.c[n].type.compile(dialect=dialect)}' for n in names]
    if extra:
        defs.append(extra)
    return f"jsonb_to_recordset(${param}::jsonb) AS {alias}({', '.join(defs)})"


def column_list(names: Sequence[str], prefix: str = "") -> str:
    return ", ".join(f'{prefix}"{n}"' for n in names)


class _Among(ColumnElement[bool]):
    """``column IN values``, compiled per dialect (``among``)."""

    inherit_cache = False
    type = sa.Boolean()

    def __init__(self, column: Any, values: Sequence[Any]) -> None:
        self.column = column
        self.values = list(values)


@compiles(_Among)
def _among_as_list(element: _Among, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column.in_(element.values), **kw))


@compiles(_Among, "postgresql")
def _among_as_array(element: _Among, compiler: Any, **kw: Any) -> str:
    values = sa.bindparam(None, element.values, type_=ARRAY(element.column.type))
    return str(compiler.process(element.column == sa.any_(values), **kw))


def among(column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """A clause true where ``column`` holds one of ``values`` (thousands of them: a chunk of ids).

    ``column.in_(values)`` sends one parameter per value, and PostgreSQL plans a statement of
    5,000 parameters in a fifth of a second; here PostgreSQL gets one array (``= ANY($1)``),
    SQLite the list.
    """
    return _Among(column, values)


def pairs_among(first: Any, second: Any, pairs: Sequence[tuple[Any, Any]]) -> ColumnElement[bool]:
    """A clause true where ``(first, second)`` is one of ``pairs``, read through an index on the two.

    ``tuple_(first, second).in_(pairs)`` is a row-value ``IN (VALUES …)``, which SQLite answers by
    scanning the whole table (a million messages read for each ingested batch); grouped by the
    first column, ``first = ? AND second IN (…)`` for each, it is one index search per group on
    both databases.
    """
    groups: dict[Any, list[Any]] = {}
    for a, b in pairs:
        groups.setdefault(a, []).append(b)
    if not groups:
        return sa.false()
    return sa.or_(*(sa.and_(first == a, second.in_(bs)) for a, bs in groups.items()))
