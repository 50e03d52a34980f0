"""Test stacks: every database test runs on SQLite + the local queue and on PostgreSQL + arq/Redis.

``--stack sqlite|postgres|all`` (or ``SWITCHBOARD_TEST_STACK``) chooses; CI runs ``all``.
Each session gets its own PostgreSQL database and its own Redis key namespace, so runs on
one machine do not disturb each other. Nothing is skipped when a service is missing: the
test fails and says which service.

Redis is a service of the postgres stack only: a test that needs it asks for ``redis_url``
and is marked ``@pytest.mark.stacks("postgres")``, so ``--stack sqlite`` runs without Redis.
"""

from __future__ import annotations

import asyncio
import fcntl
import importlib.metadata
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis
import redis.asyncio as aioredis
import sqlalchemy as sa
from playwright.async_api import Browser

import core.testing
from core.config.settings import Settings
from core.distribution import DISTRIBUTION
from core.testing import GatewayClient, gateway_client, make_settings
from tests.support.browser import SharedChromium

PG_ADMIN = os.environ.get("SWITCHBOARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("SWITCHBOARD_TEST_REDIS", "redis://127.0.0.1:6379/0")
STACKS = ("sqlite", "postgres")
EXAMPLE_PLUGIN = Path(__file__).parent / "example_plugin"

# The gateway's own suite loads its own plugins (the built-in ones and tests/example_plugin), never
# another plugin installed in this environment, which may need settings these tests do not give.
try:
    _OURS = importlib.metadata.distribution(DISTRIBUTION)
except importlib.metadata.PackageNotFoundError:  # an environment installed before the rename
    raise pytest.UsageError(
        f"the {DISTRIBUTION} distribution is not installed: run `pip install -e '.[test]'` again"
        " (and `pip uninstall switchboard`, the distribution's former name)"
    ) from None
OWN_PLUGINS = sorted({ep.name for ep in _OURS.entry_points if ep.group == "switchboard"} | {"example"})
core.testing.default_installed = OWN_PLUGINS


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stack",
        default=os.environ.get("SWITCHBOARD_TEST_STACK", "all"),
        choices=("all", *STACKS),
        help="database/queue stack for database tests (default: all)",
    )


def _chosen_stacks(config: pytest.Config) -> tuple[str, ...]:
    chosen = config.getoption("--stack")
    return STACKS if chosen == "all" else (chosen,)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "stack_name" in metafunc.fixturenames:
        names = _chosen_stacks(metafunc.config)
        only = metafunc.definition.get_closest_marker("stacks")
        if only is not None:
            # A test about one stack's machinery (the arq worker, Redis, the embedded server).
            names = tuple(n for n in names if n in only.args)
        metafunc.parametrize("stack_name", names, scope="session")


# Files whose tests take many seconds each (real processes, a fresh virtual environment, a
# fuzzer); tests that drive the browser are slow too. See ``_slow_first``.
SLOW_FILES = frozenset(
    {
        "test_delivery_guarantees.py",
        "test_embedded_guarantees.py",
        "test_fuzz_openapi.py",
        "test_scaffold.py",
        "test_worker_shutdown.py",
    }
)


@pytest.hookimpl(trylast=True)  # after pytest's own reordering by session-scoped parameters
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A test marked for stacks none of which runs is left out, rather than reported as an
    # empty parameter set: ``--stack sqlite`` neither runs nor needs what is postgres-only (Redis).
    chosen = set(_chosen_stacks(config))
    dropped = {
        item
        for item in items
        if (marker := item.get_closest_marker("stacks")) is not None and not chosen.intersection(marker.args)
    }
    if dropped:
        config.hook.pytest_deselected(items=list(dropped))
        items[:] = [item for item in items if item not in dropped]
    items.sort(key=_slow_first)


def _slow_first(item: pytest.Item) -> tuple[int, bool]:
    """The order tests are handed to xdist's workers: by stack, and the slow ones first within each.

    pytest-xdist hands out tests in this order as workers ask for more; a slow test handed out
    last keeps one worker busy while the other has nothing left to do. Slow tests first, the
    run ends with short ones on both workers. One group per stack (tests without a stack
    first) keeps each stack's session fixture set up once per worker. The sort is stable: the
    rest keeps pytest's order.
    """
    callspec = getattr(item, "callspec", None)
    stack_name = callspec.params.get("stack_name") if callspec is not None else None
    group = STACKS.index(stack_name) + 1 if stack_name in STACKS else 0
    slow = item.path.name in SLOW_FILES or "browser" in getattr(item, "fixturenames", ())
    return group, not slow


@pytest.fixture(scope="session")
def example_installed() -> None:
    """Install tests/example_plugin into this environment, as a user would install a plugin.

    Parallel test workers share the environment: the first installs, the others wait on the lock.
    """
    lock_path = Path(tempfile.gettempdir()) / f"switchboard-example-install-{Path(sys.prefix).name}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        importlib.invalidate_caches()
        try:
            importlib.metadata.distribution("switchboard-example")
        except importlib.metadata.PackageNotFoundError:
            pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
            subprocess.run([*pip, str(EXAMPLE_PLUGIN)], check=True)
            importlib.invalidate_caches()


@pytest.fixture(scope="session")
async def shared_chromium() -> AsyncIterator[SharedChromium]:
    """The session's one Chromium (one per xdist worker), started by the first test that asks for ``browser``."""
    shared = SharedChromium()
    yield shared
    await shared.close()


@pytest.fixture
async def browser(shared_chromium: SharedChromium) -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright; every page or context a test opens is new to it."""
    async with shared_chromium.for_a_test() as b:
        yield b


@dataclass
class Stack:
    name: str
    database_url: str
    queue: dict[str, Any]
    tmp: Path
    # Its tables, children before parents, by the set of table names they were read with:
    # reading the schema cost more than emptying it, before every test (see ``_truncate``).
    delete_order: dict[frozenset[str], list[str]] = field(default_factory=dict)

    @property
    def is_postgres(self) -> bool:
        return self.name == "postgres"

    def settings(self, **sections: Any) -> Settings:
        queue = {**self.queue, **sections.pop("queue", {})}
        return make_settings(self.tmp, database_url=self.database_url, queue=queue, **sections)


async def _create_pg_database() -> str:
    name = f"sbtest_{uuid.uuid4().hex[:12]}"
    try:
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as err:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN}: {err} (start it; CI's .ci/run does)")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def _drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def redis_namespace() -> str:
    """A Redis key prefix for this session (``redis_url`` removes its keys at the end)."""
    return f"sbtest-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def redis_url(redis_namespace: str) -> Iterator[str]:
    """The shared Redis, reachable: asking for it declares that a test needs Redis."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except (OSError, redis.RedisError) as err:
        client.close()
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {err} (start it; CI's .ci/run does)")
    yield REDIS_URL
    keys = list(client.scan_iter(f"{redis_namespace}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
async def stack(
    stack_name: str, tmp_path_factory: pytest.TempPathFactory, redis_namespace: str, request: pytest.FixtureRequest
) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp(stack_name)
    if stack_name == "sqlite":
        st = Stack("sqlite", f"sqlite+aiosqlite:///{tmp / 'test.db'}", {"backend": "local"}, tmp)
        await asyncio.to_thread(_migrate, st)
        yield st
        return
    redis_url: str = request.getfixturevalue("redis_url")
    db = await _create_pg_database()
    host = PG_ADMIN.split("://", 1)[1].rsplit("/", 1)[0]
    st = Stack(
        "postgres",
        f"postgresql+asyncpg://{host}/{db}",
        {"backend": "arq", "redis_url": redis_url, "name": f"{redis_namespace}-{stack_name}"},
        tmp,
    )
    await asyncio.to_thread(_migrate, st)
    try:
        yield st
    finally:
        await _drop_pg_database(db)


def _migrate(st: Stack) -> None:
    from core.storage import migrate

    migrate.upgrade(st.settings())


async def _truncate(st: Stack) -> None:
    from core.config.settings import DatabaseSettings
    from core.storage.db import make_engine

    engine = make_engine(DatabaseSettings(url=st.database_url))
    try:
        async with engine.begin() as conn:
            # Every table, plugin tables included, except Alembic's bookkeeping. A table created
            # since the last reflection changes the set of names, and the schema is reflected again.
            names = await conn.run_sync(lambda sync: frozenset(sa.inspect(sync).get_table_names()))
            key = names - {"alembic_version"}
            if key not in st.delete_order:
                reflected = sa.MetaData()
                await conn.run_sync(reflected.reflect)
                st.delete_order[key] = [t.name for t in reversed(reflected.sorted_tables) if t.name in key]
            order = st.delete_order[key]
            # Only the tables with rows are emptied (a test fills a few): one query says which.
            quote = conn.dialect.identifier_preparer.quote
            which = " UNION ALL ".join(
                f"SELECT CAST(:t{i} AS VARCHAR) AS name WHERE EXISTS (SELECT 1 FROM {quote(name)})" for i, name in enumerate(order)
            )
            params = {f"t{i}": name for i, name in enumerate(order)}
            filled = set((await conn.execute(sa.text(which), params)).scalars())
            for name in order:  # children first: no foreign key is left pointing at a deleted row
                if name in filled:
                    await conn.execute(sa.text(f"DELETE FROM {quote(name)}"))
    finally:
        await engine.dispose()
    if st.is_postgres:
        client = aioredis.from_url(st.queue["redis_url"])
        # Waiting jobs live under arq's own prefix (arq:job:<id>), outside the queue's names.
        jobs = await client.zrange(f"{st.queue['name']}:queue", 0, -1)
        keys = [b"arq:job:" + j for j in jobs]
        keys += [k async for k in client.scan_iter(f"{st.queue['name']}*", count=10_000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def clean_stack(stack: Stack) -> Stack:
    """The stack with every core table emptied (and its Redis queue cleared) before the test."""
    await _truncate(stack)
    return stack


@pytest.fixture
async def client(clean_stack: Stack) -> AsyncIterator[GatewayClient]:
    """A client of an app on the stack with default settings."""
    async with gateway_client(clean_stack.settings(), migrate=False) as c:
        yield c


@pytest.fixture
def app_client(clean_stack: Stack) -> Callable[..., Any]:
    """``async with app_client(routes=[...], plugins={...}) as client``: an app with these settings."""

    def open_client(*, extra_plugins: list[tuple[str, object]] | None = None, **sections: Any) -> Any:
        return gateway_client(clean_stack.settings(**sections), plugins=extra_plugins or [], migrate=False)

    return open_client
