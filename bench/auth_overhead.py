"""What authentication costs per request, in process (SQLite, the embedded default, or PostgreSQL).

Prints requests per second and mean latency of one cheap endpoint called: anonymously (no
auth work), with a user's access token, with an API key whose usage is batched (what the
gateway does), and with an API key whose usage is written on every request (what it did
before batching). ``--database-url`` runs it on an existing, migrated PostgreSQL database.

    python bench/auth_overhead.py [--requests 2000] [--database-url postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable

from core.testing import api_key_headers, gateway_client, make_settings, user_headers


async def measure(label: str, n: int, call: Callable[[], Awaitable[int]]) -> None:
    for _ in range(50):  # warm up
        await call()
    started = time.perf_counter()
    for _ in range(n):
        status = await call()
        assert status == 200, status
    elapsed = time.perf_counter() - started
    print(f"{label:<50} {n / elapsed:8.0f} req/s   {elapsed / n * 1000:6.2f} ms/req")


async def main(n: int, database_url: str | None) -> None:
    settings = make_settings(tempfile.mkdtemp(), database_url=database_url, auth={"api_rate_per_minute": 10_000_000})
    async with gateway_client(settings, migrate=database_url is None) as client:
        gateway = client.gateway
        token = await user_headers(gateway, "viewer")
        key = await api_key_headers(gateway, ["*"])

        async def probe() -> int:
            return (await client.get("/healthz")).status_code

        async def as_user() -> int:
            return (await client.get("/healthz", headers=token)).status_code

        async def as_key() -> int:
            return (await client.get("/healthz", headers=key)).status_code

        async def as_key_writing_each_time() -> int:
            status = (await client.get("/healthz", headers=key)).status_code
            await gateway.auth.key_usage.flush()  # one UPDATE per request, as before batching
            return status

        print(f"{n} sequential requests, {gateway.db.dialect}, in process\n")
        await measure("anonymous GET /healthz", n, probe)
        await measure("access token GET /healthz", n, as_user)
        await measure("API key GET /healthz (usage batched)", n, as_key)
        await measure("API key GET /healthz (usage written per request)", n, as_key_writing_each_time)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--database-url", help="a migrated database (default: a new SQLite file)")
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.database_url))
