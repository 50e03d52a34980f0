"""Test helpers for plugin authors (and the gateway's own tests).

settings = make_settings(tmp_path, plugins={"myplugin": {"url": "http://127.0.0.1:9999"}})
async with gateway_client(settings, plugins=[("myplugin", myplugin)]) as client:
    r = await client.post("/webhooks/myplatform", content=body, headers=signed(body, "secret"))
    await drain(client.gateway)
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from core.auth.api_keys import insert_api_key
from core.auth.users import insert_user
from core.config.settings import Settings, settings_from_dict
from core.gateway import Gateway
from core.pipeline.deliveries import AttemptOutcome, perform
from core.pipeline.statuses import WAITING
from core.storage import migrate as migrations
from core.storage.models import deliveries
from core.web.app import create_app


def make_settings(tmp_path: Path | str | None = None, *, database_url: str | None = None, **sections: Any) -> Settings:
    """Settings for a test: SQLite in ``tmp_path`` (or ``database_url``), local queue, quiet audit."""
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
    return settings_from_dict(data, source="<test settings>", environ={})


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


# The test kit's helpers, public here (core.testkit is their home).
from core.testkit.assertions import (  # noqa: E402
    assert_deliveries,
    attempt_rows,
    delivery_rows,
    signed,
    stored_messages,
)
from core.testkit.receiver import Received, Receiver, running_receiver, serving  # noqa: E402

__all__ = [
    "GatewayClient",
    "Received",
    "Receiver",
    "api_key_headers",
    "assert_deliveries",
    "attempt_rows",
    "delivery_rows",
    "drain",
    "gateway_client",
    "hmac_sha256",
    "make_settings",
    "new_external_id",
    "running_receiver",
    "serving",
    "signed",
    "stored_messages",
    "user_headers",
]
