"""Abuse resistance: lockout, answers that reveal nothing, rate limits in memory and in Redis."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

import core.auth.passwords as passwords
from core.auth.ratelimit import MemoryRateLimiter, RedisRateLimiter
from core.storage.models import users
from core.testing import user_headers
from tests.support.auth import PASSWORD, audit_rows, login, make_user


async def _attempt(client, username: str, password: str) -> tuple[int, dict[str, str]]:  # type: ignore[no-untyped-def]
    r = await client.post("/api/auth/token", json={"username": username, "password": password})
    body = r.json()
    body.pop("request_id", None)
    return r.status_code, body


async def test_unknown_user_and_wrong_password_get_the_same_answer(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "amosi")
    unknown = await _attempt(client, "nobody-here", PASSWORD)
    wrong = await _attempt(client, "amosi", "not-the-password-1")
    assert unknown == wrong == (401, {"error": "invalid username or password"})


async def test_an_unknown_user_costs_one_password_hash_like_a_known_one(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "bakari")
    await _attempt(client, "warm-up-unknown", PASSWORD)  # the dummy hash is made once
    checked: list[str] = []
    real = passwords.verify_password_sync

    def counting(password: str, encoded: str) -> bool:
        checked.append(encoded.split("$")[1])  # the cost parameters
        return real(password, encoded)

    monkeypatch.setattr(passwords, "verify_password_sync", counting)
    await _attempt(client, "nobody-here", PASSWORD)
    await _attempt(client, "bakari", "not-the-password-1")
    assert len(checked) == 2 and checked[0] == checked[1]


async def test_account_locks_after_the_configured_failures_and_even_the_right_password_is_refused(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"lockout_attempts": 3}) as client:
        await make_user(client.gateway, "chiku")
        for _ in range(3):
            await _attempt(client, "chiku", "not-the-password-1")
        # Same answer as a wrong password: a locked account tells a guesser nothing.
        assert await _attempt(client, "chiku", PASSWORD) == (401, {"error": "invalid username or password"})


async def test_lockout_is_audited_with_the_account_and_client(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"lockout_attempts": 2, "lockout_seconds": 600}) as client:
        await make_user(client.gateway, "daudi")
        for _ in range(2):
            await _attempt(client, "daudi", "not-the-password-1")
        rows = await audit_rows(client.gateway)
        assert [r.action for r in rows] == ["login_failed", "login_failed", "lockout"]
        assert rows[-1].actor == "user:daudi" and rows[-1].client == "127.0.0.1"
        assert rows[-1].detail == {"seconds": 600}
        assert rows[0].detail == {"reason": "wrong_password"}


async def test_a_lock_ends_when_its_time_is_up(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"lockout_attempts": 1}) as client:
        await make_user(client.gateway, "eshe")
        await _attempt(client, "eshe", "not-the-password-1")
        async with client.gateway.db.transaction() as conn:
            await conn.execute(sa.update(users).values(locked_until=datetime.now(UTC) - timedelta(seconds=1)))
        assert await login(client, "eshe")


async def test_a_successful_login_resets_the_failure_count(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"lockout_attempts": 3}) as client:
        await make_user(client.gateway, "faraji")
        for _ in range(2):
            await _attempt(client, "faraji", "not-the-password-1")
        await login(client, "faraji")
        for _ in range(2):
            await _attempt(client, "faraji", "not-the-password-1")
        assert await login(client, "faraji")


async def test_a_login_rehashes_a_password_stored_at_an_older_cost(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        await make_user(client.gateway, "gamba")
        client.gateway.auth.passwords.n = 2**15  # the operator raised [auth] password_scrypt_n
        await login(client, "gamba")
        async with client.gateway.db.transaction() as conn:
            stored = (await conn.execute(sa.select(users.c.password_hash))).scalar_one()
        assert stored.startswith("scrypt$n=32768,")
        assert await login(client, "gamba")


# --- rate limits -------------------------------------------------------------------------------


def _from(client, address: str) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    """Another client of the same app, calling from ``address``."""
    transport = httpx.ASGITransport(app=client.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_login_attempts_over_the_limit_get_429_with_retry_after(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"login_rate_per_minute": 3}) as client:
        statuses = [(await _attempt(client, "hadija", "not-the-password-1"))[0] for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        r = await client.post("/api/auth/token", json={"username": "hadija", "password": "x"})
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60


async def test_the_login_limit_is_per_client_address(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"login_rate_per_minute": 2}) as client:
        await make_user(client.gateway, "jelani")
        for _ in range(3):
            await _attempt(client, "jelani", "not-the-password-1")
        async with _from(client, "10.1.2.3") as other:
            r = await other.post("/api/auth/token", json={"username": "jelani", "password": PASSWORD})
            assert r.status_code == 200


async def test_api_requests_over_the_limit_get_429_per_caller(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"api_rate_per_minute": 3}) as client:
        busy = await user_headers(client.gateway, "viewer")
        quiet = await user_headers(client.gateway, "viewer")
        statuses = [(await client.get("/api/auth/me", headers=busy)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert (await client.get("/api/auth/me", headers=quiet)).status_code == 200


async def test_guessing_api_keys_is_rate_limited_by_address(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"api_rate_per_minute": 3}) as client:
        statuses = [
            (await client.get("/api/auth/me", headers={"X-API-Key": f"sb_0000000{n}_guess"})).status_code
            for n in range(4)
        ]
        assert statuses == [401, 401, 401, 429]


async def test_health_probes_and_webhooks_are_not_rate_limited(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"api_rate_per_minute": 1}) as client:
        assert {(await client.get("/healthz")).status_code for _ in range(5)} == {200}
        assert {(await client.post("/webhooks/nosuch", content=b"{}")).status_code for _ in range(5)} == {404}


def _arq(redis_url: str, redis_namespace: str) -> dict[str, str]:
    return {"backend": "arq", "redis_url": redis_url, "name": f"{redis_namespace}-rl-{uuid.uuid4().hex[:8]}"}


@pytest.mark.stacks("postgres")
async def test_with_the_arq_backend_limits_hold_across_processes(app_client, redis_url: str, redis_namespace: str) -> None:  # type: ignore[no-untyped-def]
    queue = _arq(redis_url, redis_namespace)
    async with app_client(queue=queue, auth={"login_rate_per_minute": 2}) as one:
        async with app_client(queue=queue, auth={"login_rate_per_minute": 2}) as two:
            assert isinstance(one.gateway.auth.limiter, RedisRateLimiter)
            await _attempt(one, "kiah", "not-the-password-1")
            await _attempt(two, "kiah", "not-the-password-1")
            assert (await _attempt(one, "kiah", "not-the-password-1"))[0] == 429
            assert (await _attempt(two, "kiah", "not-the-password-1"))[0] == 429


async def test_with_the_local_backend_limits_live_in_memory(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(queue={"backend": "local"}) as client:
        assert isinstance(client.gateway.auth.limiter, MemoryRateLimiter)


async def test_without_redis_limits_fall_back_to_memory_rather_than_failing(app_client, redis_namespace: str) -> None:  # type: ignore[no-untyped-def]
    queue = _arq("redis://127.0.0.1:1/0", redis_namespace)  # nothing listens there
    async with app_client(queue=queue, auth={"login_rate_per_minute": 1}) as client:
        assert (await _attempt(client, "lela", "not-the-password-1"))[0] == 401
        assert (await _attempt(client, "lela", "not-the-password-1"))[0] == 429


@pytest.mark.stacks("postgres")
async def test_redis_limiter_refills_at_the_configured_rate(redis_url: str, redis_namespace: str) -> None:
    import redis.asyncio as aioredis

    connection = aioredis.from_url(redis_url)
    try:
        limiter = RedisRateLimiter(lambda: connection, f"{redis_namespace}-unit", fallback=MemoryRateLimiter())
        waits = [await limiter.hit("k", 2, 60) for _ in range(3)]
        # Two at once, then one every 30 s: the third waits for (most of) an interval.
        assert waits[:2] == [0, 0] and 0 < waits[2] <= 30
    finally:
        await connection.aclose()


async def test_memory_limiter_refills_at_the_configured_rate() -> None:
    limiter = MemoryRateLimiter()
    waits = [await limiter.hit("k", 2, 60) for _ in range(3)]
    assert waits[:2] == [0, 0] and 0 < waits[2] <= 30


@pytest.mark.parametrize("clock", [0.1, 86_400.7, 1_234_567.891])
async def test_memory_limiter_allows_a_full_bucket_whatever_the_clock_reads(monkeypatch, clock: float) -> None:  # type: ignore[no-untyped-def]
    # (0.1 + 60) - 60 is not 0.1 in binary floating point: the first request must still pass.
    monkeypatch.setattr("core.auth.ratelimit.time.monotonic", lambda: clock)
    limiter = MemoryRateLimiter()
    assert await limiter.hit("k", 1, 60) == 0
    assert await limiter.hit("k", 1, 60) == pytest.approx(60)
