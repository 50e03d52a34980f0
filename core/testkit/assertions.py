"""Signing webhooks, and looking at what a gateway stored and attempted: for plugin tests."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from core.storage.models import deliveries, delivery_attempts

if TYPE_CHECKING:
    from core.gateway import Gateway


def signed(
    body: bytes, secret: str | bytes, *, header: str = "X-Signature", prefix: str = "sha256=", **extra: str
) -> dict[str, str]:
    """Headers carrying ``prefix`` + the hex HMAC-SHA256 of ``body`` (and ``extra`` headers).

    ``signed(body, "s3cret", header="X-Hub-Signature-256")`` is what most webhook senders send.
    """
    key = secret.encode() if isinstance(secret, str) else secret
    return {
        header: prefix + hmac.new(key, body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
        **extra,
    }


async def delivery_rows(gateway: Gateway, *, destination: str | None = None) -> list[dict[str, Any]]:
    """The deliveries (oldest first), optionally to one destination."""
    query = sa.select(deliveries).order_by(deliveries.c.id)
    if destination is not None:
        query = query.where(deliveries.c.destination == destination)
    async with gateway.db.transaction() as conn:
        return [dict(r._mapping) for r in await conn.execute(query)]


async def attempt_rows(gateway: Gateway, delivery_id: Any) -> list[dict[str, Any]]:
    """One delivery's attempts, in order."""
    query = (
        sa.select(delivery_attempts)
        .where(delivery_attempts.c.delivery_id == delivery_id)
        .order_by(delivery_attempts.c.number)
    )
    async with gateway.db.transaction() as conn:
        return [dict(r._mapping) for r in await conn.execute(query)]


async def assert_deliveries(
    gateway: Gateway, status: str, *, count: int | None = None, destination: str | None = None
) -> list[dict[str, Any]]:
    """Every delivery (to ``destination``) is in ``status``, and there are ``count`` of them; returns them."""
    rows = await delivery_rows(gateway, destination=destination)
    found = sorted({r["status"] for r in rows})
    where = f" to {destination}" if destination else ""
    assert found in ([status], []), f"deliveries{where} are {found}, expected all {status}: {_errors(rows)}"
    if count is not None:
        assert len(rows) == count, f"{len(rows)} deliveries{where}, expected {count}"
    return rows


def _errors(rows: list[dict[str, Any]]) -> list[str]:
    return [f"{r['status']}: {r['last_error']}" for r in rows if r["last_error"]][:5]
