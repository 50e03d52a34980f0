"""Test helpers for plugin authors (and the gateway's own tests).

settings = make_settings(tmp_path, plugins={"myplugin": {"url": "http://127.0.0.1:9999"}})
async with gateway_client(settings, plugins=[("myplugin", myplugin)]) as client:
    r = await client.post("/webhooks/myplatform", content=body, headers=signed(body, "secret"))
    await settle(client.gateway)
    [delivery] = await deliveries_of(client.gateway, r.json()["messages"][0]["message_id"])

Waiting for something to happen is always ``await wait_until(check, message=...)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
import sqlalchemy as sa
from arq.worker import Worker

from core.auth.api_keys import insert_api_key
from core.auth.users import insert_user
from core.config.settings import Settings, settings_from_dict
from core.gateway import Gateway
from core.pipeline.deliveries import AttemptOutcome, perform
from core.pipeline.queue.arq_backend import ArqQueue
from core.pipeline.statuses import WAITING, DeliveryStatus
from core.pipeline.worker import build_worker
from core.plugins import PluginRegistry
from core.storage import migrate as migrations
from core.storage.models import audit_log, conversations, deliveries, delivery_attempts, messages
from core.web.app import create_app

T = TypeVar("T")

# The installed plugins that ``make_settings`` names when a test does not say (``installed=``):
# none by default. A suite testing several plugins of its own may name them in its conftest.py
# (``core.testing.default_installed = ["acme", "acme_admin"]``); the gateway's own suite names
# its built-in plugins.
default_installed: list[str] = []


def make_settings(
    tmp_path: Path | str | None = None,
    *,
    database_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    installed: Iterable[str] | Literal["all"] | None = None,
    **sections: Any,
) -> Settings:
    """Settings for a test: SQLite in ``tmp_path`` (or ``database_url``), local queue, quiet audit.

    ``environ`` is the environment that ``${VAR}`` references read (none by default).

    A gateway built from them (``gateway_client``, a worker of ``run_jobs``) loads the core,
    the in-process plugins it is given, and of the installed plugins (entry points) only those
    the test names: in ``installed`` (default: ``default_installed``) or with a
    ``[plugins.<name>]`` table in ``plugins``. ``installed="all"`` loads every installed plugin,
    as production does.
    """
    base = Path(tmp_path) if tmp_path is not None else Path.cwd()
    data: dict[str, Any] = {
        "server": {"data_dir": str(base / "data")},
        "database": {"url": database_url or f"sqlite+aiosqlite:///{base / 'switchboard-test.db'}"},
        # The cheapest password hashing the settings allow: tests log in often.
        "auth": {"secret_key": "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz", "password_scrypt_n": 2**14},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    settings = settings_from_dict(data, source="<test settings>", environ=environ or {})
    named = default_installed if installed is None else installed
    settings.only_plugins(None if named == "all" else {*named, *settings.plugins})
    return settings


def plugin_settings(settings: Settings, name: str) -> Any:
    """What ``gateway.plugin_config(name)`` would be: the plugin's validated settings.

    Validated as at startup: an invalid ``[plugins.<name>]`` table raises ``ConfigError``.
    """
    return PluginRegistry(settings).plugin_settings[name]


class GatewayClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` talking to an in-process app; ``.gateway`` is its gateway."""

    gateway: Gateway
    app: Any


@asynccontextmanager
async def gateway_client(
    settings: Settings, *, plugins: Iterable[tuple[str, object]] = (), migrate: bool = True, run_queue: bool = True
) -> AsyncIterator[GatewayClient]:
    """Build the app, migrate its database, run its lifespan, and yield a client for it.

    ``run_queue=False``: no delivery workers or cron jobs run in the background, so deliveries
    happen only when the test calls ``drain`` (what the test kit's ``gateway`` does).
    """
    app = create_app(settings, plugins=plugins)
    if migrate:
        migrations.upgrade(settings)
    gateway: Gateway = app.state.gateway
    async with contextlib.AsyncExitStack() as stack:
        if run_queue:
            await stack.enter_async_context(app.router.lifespan_context(app))
        else:
            await gateway.start(run_queue=False)
            stack.push_async_callback(gateway.close)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with GatewayClient(transport=transport, base_url="http://testserver") as client:
            client.gateway = gateway
            client.app = app
            yield client


async def drain(gateway: Gateway, *, rounds: int = 50, include_future: bool = False) -> list[AttemptOutcome]:
    """Run every due delivery now, in this task, until none is left; returns the outcomes.

    ``include_future`` also runs deliveries waiting for their retry time.
    """
    outcomes: list[AttemptOutcome] = []
    for _ in range(rounds):
        now = datetime.now(UTC)
        query = sa.select(deliveries.c.id).where(deliveries.c.status.in_(WAITING))
        if include_future:
            async with gateway.db.transaction() as conn:
                await conn.execute(
                    sa.update(deliveries).where(deliveries.c.status.in_(WAITING)).values(next_attempt_at=now)
                )
        else:
            query = query.where(deliveries.c.next_attempt_at <= now)
        async with gateway.db.transaction() as conn:
            ids = [row.id for row in await conn.execute(query)]
        if not ids:
            break
        for delivery_id in ids:
            outcome = await perform(gateway, delivery_id, worker="test")
            if outcome is not None:
                outcomes.append(outcome)
        if not include_future:
            break
    return outcomes


async def user_headers(gateway: Gateway, role: str = "admin", username: str | None = None) -> dict[str, str]:
    """Create a user with ``role`` and return ``Authorization`` headers with an access token for it."""
    name = username or f"{role}-{uuid.uuid4().hex[:8]}"
    user_id = await insert_user(gateway, name, role, password_hash="!test-user-without-password")  # noqa: S106 - "!" never matches a hash
    token, _ = gateway.auth.issue_access_token(user_id, role)
    return {"Authorization": f"Bearer {token}"}


async def api_key_headers(gateway: Gateway, scopes: Iterable[str], *, platform: str | None = None) -> dict[str, str]:
    """Create an API key with ``scopes`` and return ``X-API-Key`` headers carrying it."""
    _, key = await insert_api_key(gateway, f"test-key-{uuid.uuid4().hex[:6]}", scopes, platform=platform)
    return {"X-API-Key": key}


def hmac_sha256(secret: str | bytes, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``body`` (what most webhook signatures are)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def new_external_id() -> str:
    return uuid.uuid4().hex


async def after_commit(gateway: Gateway) -> None:
    """Wait for what the last commits set off in this process: enqueues, messages-stored hooks."""
    pending = gateway.ingest._after  # the ingestor's own set of after-commit tasks
    while pending:
        await asyncio.gather(*pending, return_exceptions=True)


async def run_jobs(gateway: Gateway, *, timeout: float = 60.0, share: bool = False) -> None:
    """Give queued jobs and deliveries a turn to run.

    On the local queue, whose workers run in this process, that is a short pause (0.05 s).
    On arq, a worker runs in this process until, three polls in a row, no job is due and
    none is running (arq's own burst mode would also wait for jobs deferred far ahead).
    ``share`` runs that worker on ``gateway`` itself (with its in-process plugins) rather than
    on a gateway of its own built from the same settings.
    """
    if not isinstance(gateway.queue, ArqQueue):
        await asyncio.sleep(0.05)
        return
    queue, redis = gateway.queue.queue_name, gateway.queue.redis
    worker = build_worker(gateway.settings, gateway=gateway if share else None, poll_delay=0.01)
    task = asyncio.create_task(worker.main())
    idle_polls = 0

    async def idle() -> bool:
        nonlocal idle_polls
        await asyncio.sleep(0.05)
        if task.done():
            task.result()  # the worker failed: say why
        due = await redis.zcount(queue, "-inf", int(time.time() * 1000))
        running = any(not t.done() for t in worker.tasks.values())
        idle_polls = idle_polls + 1 if due == 0 and not running else 0
        return idle_polls >= 3

    try:
        await wait_until(idle, timeout=timeout, interval=0, message="the arq queue to have nothing due or running")
    finally:
        await stop_worker(worker, task)


async def stop_worker(worker: Worker, task: asyncio.Task[Any], *, timeout: float = 30.0) -> None:
    """Stop an arq worker running as ``task`` (``worker.main()``) as a drained shutdown would.

    The worker stops picking jobs, the jobs it is running finish (for up to ``timeout``
    seconds), then it closes. arq's ``close()`` alone cancels running jobs and then gathers
    them, which raises the ``CancelledError`` of a job caught mid-way (a cron tick or a
    delivery that started just before) and leaves its connections open.
    """
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    running = [t for t in worker.tasks.values() if not t.done()]
    if running:
        await asyncio.wait(running, timeout=timeout)
    await worker.close()


async def delivery_statuses(gateway: Gateway) -> dict[str, int]:
    """How many deliveries are in each status (statuses with none are left out)."""
    query = sa.select(deliveries.c.status, sa.func.count()).group_by(deliveries.c.status)
    async with gateway.db.transaction() as conn:
        return {status: count for status, count in await conn.execute(query)}


async def settle(gateway: Gateway, *, timeout: float = 20.0) -> dict[str, int]:
    """Run deliveries (``run_jobs``) until none is due now or running; the count of each status.

    Retries scheduled for later are left waiting: ``settle`` again once they are due.
    """

    async def nothing_due() -> bool:
        await run_jobs(gateway)
        due_now = sa.or_(
            sa.and_(deliveries.c.status.in_(WAITING), deliveries.c.next_attempt_at <= datetime.now(UTC)),
            deliveries.c.status == DeliveryStatus.RUNNING,
        )
        async with gateway.db.transaction() as conn:
            due = (await conn.execute(sa.select(sa.func.count()).select_from(deliveries).where(due_now))).scalar_one()
        return bool(due == 0)

    try:
        await wait_until(nothing_due, timeout=timeout, interval=0, message="no delivery to be due or running")
    except AssertionError as err:
        raise AssertionError(f"{err}; deliveries: {await delivery_statuses(gateway)}") from None
    return await delivery_statuses(gateway)


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


async def _rows(gateway: Gateway, query: sa.Select[Any]) -> list[sa.Row[Any]]:
    async with gateway.db.transaction() as conn:
        return list(await conn.execute(query))


async def deliveries_of(gateway: Gateway, message_id: uuid.UUID | str) -> list[sa.Row[Any]]:
    """The delivery rows of a stored message (``status``, ``destination``, ``last_error``, ``detail``...)."""
    return await _rows(gateway, sa.select(deliveries).where(deliveries.c.message_id == _uuid(message_id)))


async def delivery(gateway: Gateway, delivery_id: uuid.UUID | str) -> sa.Row[Any]:
    """One delivery row, by id."""
    [row] = await _rows(gateway, sa.select(deliveries).where(deliveries.c.id == _uuid(delivery_id)))
    return row


async def attempts(gateway: Gateway, delivery_id: uuid.UUID | str) -> list[sa.Row[Any]]:
    """A delivery's attempt rows, first attempt first (``outcome``, ``status_code``, ``response_excerpt``...)."""
    query = sa.select(delivery_attempts).where(delivery_attempts.c.delivery_id == _uuid(delivery_id))
    return await _rows(gateway, query.order_by(delivery_attempts.c.number))


async def stored_messages(gateway: Gateway, **where: Any) -> list[sa.Row[Any]]:
    """Stored message rows, oldest first, whose columns equal ``where`` (``platform="whatsapp"``)."""
    query = sa.select(messages).order_by(messages.c.received_at, messages.c.id)
    clauses = [
        gateway.privacy.match(messages.c[column], value)
        if column in ("sender", "recipient") and value is not None
        else messages.c[column] == value
        for column, value in where.items()
    ]
    return await _rows(gateway, query.where(*clauses))


async def conversation_of(gateway: Gateway, participant: str) -> sa.Row[Any] | None:
    """The conversation row of ``participant``, if there is one."""
    query = sa.select(conversations).where(gateway.privacy.match(conversations.c.participant, participant))
    rows = await _rows(gateway, query)
    return rows[0] if rows else None


async def audit_entries(gateway: Gateway, **where: Any) -> list[sa.Row[Any]]:
    """Audit log rows, oldest first, whose columns equal ``where`` (``action="webhook_rejected"``).

    The audit log is written in the background: it is flushed first.
    """
    await gateway.audit.flush()
    query = sa.select(audit_log).order_by(audit_log.c.id)
    return await _rows(gateway, query.where(*(audit_log.c[column] == value for column, value in where.items())))


# The test kit's helpers, public here (core.testkit is their home).
from core.testkit.assertions import (  # noqa: E402
    assert_deliveries,
    attempt_rows,
    delivery_rows,
    signed,
)
from core.testkit.receiver import Received, Receiver, running_receiver, serving  # noqa: E402
from core.testkit.waiting import wait_until  # noqa: E402

__all__ = [
    "after_commit",
    "api_key_headers",
    "assert_deliveries",
    "attempt_rows",
    "attempts",
    "audit_entries",
    "conversation_of",
    "deliveries_of",
    "delivery",
    "delivery_rows",
    "delivery_statuses",
    "drain",
    "gateway_client",
    "GatewayClient",
    "hmac_sha256",
    "make_settings",
    "new_external_id",
    "plugin_settings",
    "Received",
    "Receiver",
    "run_jobs",
    "running_receiver",
    "serving",
    "settle",
    "signed",
    "stored_messages",
    "user_headers",
    "wait_until",
]
