"""Helpers of the DHIS2 plugin's tests: settling deliveries with their retries, reading them back."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import sqlalchemy as sa

from core import Gateway
from core.storage.models import deliveries, delivery_attempts
from core.testing import user_headers
from tests.support.mapping_files import ROWS, csv_bytes, upload
from tests.support.pipeline import settle


async def settled(gateway: Gateway, *, timeout: float = 30.0) -> dict[str, int]:
    """Run deliveries, retries included, until none is waiting; the count of each status."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        statuses = await settle(gateway, timeout=timeout)
        if not any(statuses.get(s) for s in ("pending", "queued", "retrying", "running")):
            return statuses
        if loop.time() > deadline:
            raise AssertionError(f"deliveries did not settle: {statuses}")
        await asyncio.sleep(0.05)


async def delivery_row(gateway: Gateway, delivery_id: str) -> Any:
    async with gateway.db.transaction() as conn:
        return (await conn.execute(sa.select(deliveries).where(deliveries.c.id == uuid.UUID(delivery_id)))).one()


async def attempts(gateway: Gateway, delivery_id: str) -> list[Any]:
    async with gateway.db.transaction() as conn:
        query = sa.select(delivery_attempts).where(delivery_attempts.c.delivery_id == uuid.UUID(delivery_id))
        return list(await conn.execute(query.order_by(delivery_attempts.c.number)))


async def import_mappings(client: Any, rows: list[list[Any]] | None = None) -> None:
    """The standard mapping file of tests/support/mapping_files.py, imported."""
    headers = await user_headers(client.gateway, "operator")
    response = await client.post(
        "/plugins/dhis2/mappings/import", files=upload(csv_bytes(rows or ROWS)), headers=headers
    )
    assert response.status_code == 200, response.text


async def first_attempt(gateway: Gateway, delivery_id: str, *, timeout: float = 10.0) -> Any:
    """Make (or wait for) the delivery's first attempt, without running its retries; that attempt."""
    from core.testing import drain

    await drain(gateway)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (done := await attempts(gateway, delivery_id)):
        if loop.time() > deadline:
            raise AssertionError("no attempt was made")
        await asyncio.sleep(0.02)
    return done[0]
