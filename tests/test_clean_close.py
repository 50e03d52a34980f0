"""Closing the gateway never cancels a background writer in the middle of its transaction.

A write cancelled mid-transaction loses what it was writing and strands its database
connection; on SQLite that connection keeps the write lock, and the next writer (the next
start, an operator's command) fails with "database is locked" after the busy timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from core.auth.key_usage import KeyUsage
from core.storage.db import Database
from core.storage.models import api_keys, users
from core.testing import api_key_headers, user_headers


class SlowWrites:
    """A database whose transactions pause before they commit, saying when one is open."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.inside = asyncio.Event()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        async with self.db.transaction() as conn:
            yield conn
            self.inside.set()
            await asyncio.sleep(0.3)


async def test_a_plugin_job_under_way_when_the_gateway_closes_is_let_finish_its_write(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(queue={"backend": "local"}) as client:
        gateway = client.gateway
        await user_headers(gateway, "viewer")
        slow = SlowWrites(gateway.db)
        finished: list[bool] = []

        async def rename(ctx: dict[str, Any]) -> None:
            async with slow.transaction() as conn:
                await conn.execute(sa.update(users).values(username="renamed-by-job"))
            finished.append(True)

        gateway.jobs = lambda: {"rename": rename}
        await gateway.queue.enqueue_job("rename")
        await asyncio.wait_for(slow.inside.wait(), 10)
    # The app has closed, its engine disposed: the job's write was committed, not cut off.
    assert finished == [True]
    db = Database(gateway.settings.database)
    try:
        async with db.transaction() as conn:
            assert (await conn.execute(sa.select(users.c.username))).scalar_one() == "renamed-by-job"
            await conn.execute(sa.delete(users))  # and the database takes the next writer at once
    finally:
        await db.close()


async def test_api_key_usage_being_written_when_the_gateway_closes_is_kept(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        gateway = client.gateway
        await api_key_headers(gateway, ["messages:read"])
        async with gateway.db.transaction() as conn:
            key_id = (await conn.execute(sa.select(api_keys.c.id))).scalar_one()
        slow = SlowWrites(gateway.db)
        usage = KeyUsage(slow, interval=0.01)  # type: ignore[arg-type]
        await usage.start()
        usage.record(key_id, datetime.now(UTC), count=3)
        await asyncio.wait_for(slow.inside.wait(), 10)
        await usage.close()  # while the flush's transaction is open
        async with gateway.db.transaction() as conn:
            count = (await conn.execute(sa.select(api_keys.c.usage_count).where(api_keys.c.id == key_id))).scalar_one()
        assert count == 3
