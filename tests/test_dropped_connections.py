"""A database connection the server dropped costs no request: it is found at checkout and replaced.

PostgreSQL drops connections on a restart, a failover or ``pg_terminate_backend``; the pools
still hold them. Before the gateway checked connections out with a liveness check, the next
request on each answered 500.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from starlette.requests import Request

from core import Adapter, DeliveryResult, StandardMessage, hookimpl
from core.storage.models import deliveries
from core.testing import new_external_id, user_headers
from tests.conftest import PG_ADMIN
from tests.support.auth import login, make_user
from tests.support.pipeline import sink_gateway


class OpenAdapter(Adapter):
    """A webhook without credentials: one text message per request."""

    name = "open"

    async def authenticate(self, request: Request, body: bytes) -> None:
        return None

    async def parse(self, request: Request, body: bytes) -> list[StandardMessage]:
        return [StandardMessage(platform="open", external_id=new_external_id(), kind="text", sender="+255700000010")]


class OpenPlugin:
    @hookimpl
    def switchboard_adapters(self) -> list[Adapter]:
        return [OpenAdapter()]


def _drop_connections_to(database: str) -> int:
    """Terminate every connection to ``database`` and wait until each has ended; how many.

    From an admin connection on another thread, joined without yielding: the event loop is
    blocked meanwhile, so the gateway's pools cannot notice before their next use (as when
    the server restarts between two requests).
    """
    ended: list[int] = []

    async def terminate() -> None:
        admin = await asyncpg.connect(PG_ADMIN)
        try:
            # In the select list, so only the rows the WHERE keeps are terminated; the timeout
            # makes it wait until each backend has ended.
            rows = await admin.fetch(
                "SELECT pid, pg_terminate_backend(pid, 20000) AS ended FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
        finally:
            await admin.close()
        ended.extend(row["pid"] for row in rows if row["ended"])

    thread = threading.Thread(target=asyncio.run, args=(terminate(),))
    thread.start()
    thread.join()
    return len(ended)


async def _requests(client: Any, admin: dict[str, str]) -> list[int]:
    """A webhook, a login and an API list: their statuses."""
    webhook = await client.post("/webhooks/open", content=b"{}")
    await login(client, "gwiji")
    listed = await client.get("/api/messages", headers=admin)
    r = await client.post("/api/auth/token", json={"username": "gwiji", "password": "not-the-password-1"})
    return [webhook.status_code, listed.status_code, r.status_code]


@pytest.mark.stacks("postgres")
async def test_requests_after_the_server_dropped_every_connection_are_answered(app_client: Any) -> None:
    # The audit writer waits to be flushed: the requests, not a background write, are the first
    # to draw the dropped connections from the pool.
    async with app_client(extra_plugins=[("open", OpenPlugin())], audit={"flush_interval": 3600}) as client:
        await make_user(client.gateway, "gwiji")
        admin = await user_headers(client.gateway, "admin")
        assert await _requests(client, admin) == [200, 200, 401]  # the pools now hold connections
        database = sa.make_url(str(client.gateway.db.engine.url)).database
        assert database
        assert _drop_connections_to(database) >= 2  # the engine's pool and the ingest store's
        assert await _requests(client, admin) == [200, 200, 401]
        await client.gateway.audit.flush()
        assert client.gateway.audit.set_aside == 0


@pytest.mark.stacks("postgres")
async def test_a_worker_claims_and_records_after_the_server_dropped_its_connections(clean_stack: Any) -> None:
    # The delivery store's own connections: the worker's claims and outcomes are not lost to them.
    async with sink_gateway(clean_stack, "dropped") as gateway:
        stored = await gateway.ingest.submit(
            [StandardMessage(platform="dropped", external_id=f"d{i}", kind="text", text="x") for i in range(2)]
        )
        first, second = (s.delivery_ids[0] for s in stored)
        [claim] = await gateway.deliveries._claim_batch([first])  # the store now holds a connection
        assert claim is not None
        database = sa.make_url(str(gateway.db.engine.url)).database
        assert database and _drop_connections_to(database) >= 1
        [claim] = await gateway.deliveries._claim_batch([second])
        assert claim is not None and claim.info.id == second
        record = gateway.deliveries._record(claim, None, datetime.now(UTC), 1.0, DeliveryResult(200), None, "w")
        _drop_connections_to(database)
        await gateway.deliveries._record_batch([record])
        async with gateway.db.transaction() as conn:
            status = (await conn.execute(sa.select(deliveries.c.status).where(deliveries.c.id == second))).scalar_one()
        assert status == "delivered"
