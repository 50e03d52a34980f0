"""Rate limits: ``limit`` requests per ``period`` seconds per key, as a smooth allowance.

The algorithm is GCRA (a token bucket kept as one timestamp per key): a client may use its
whole allowance at once, then gets one request every ``period / limit`` seconds, and a
refused request is told exactly how long to wait. With the arq backend the state lives in
Redis, so every process shares it; the local backend keeps it in memory. If Redis cannot be
reached, a process falls back to its own memory for a few seconds at a time, rather than
refusing or waving everyone through, and rather than waiting on Redis in every request.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Protocol

from redis.exceptions import RedisError

log = logging.getLogger("switchboard.auth")
# After Redis fails, how long to use memory before trying it again.
REDIS_RETRY_SECONDS = 5.0
# Waits shorter than this are rounding, not a limit.
_EPSILON = 1e-6

# KEYS[1]: the bucket. ARGV: limit, period (ms). Returns the wait in ms, 0 when allowed.
# Redis's clock is used so that processes on machines with skewed clocks agree.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local interval = period / limit
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
-- From differences, as in MemoryRateLimiter: a wait under a microsecond is rounding.
local wait = (tat - now) + (interval - period)
if wait > 0.001 then
  return math.ceil(wait)
end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 1)
return 0
"""


# KEYS[1]: the bucket. ARGV: limit, period (ms). Gives one request back (keeps the expiry).
_REFUND = """
local tat = tonumber(redis.call('GET', KEYS[1]))
local ttl = redis.call('PTTL', KEYS[1])
if tat and ttl > 0 then
  local interval = tonumber(ARGV[2]) / tonumber(ARGV[1])
  redis.call('SET', KEYS[1], string.format('%.3f', tat - interval), 'PX', ttl)
end
return 0
"""


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, period: float) -> float:
        """Count one request against ``key``; returns 0 when allowed, else seconds to wait."""

    async def refund(self, key: str, limit: int, period: float) -> None:
        """Give back one request counted by ``hit`` (it turned out not to be one to limit)."""


class MemoryRateLimiter:
    """Buckets in this process's memory (the local backend, or a fallback)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._tat: dict[str, float] = {}
        self.max_keys = max_keys

    async def hit(self, key: str, limit: int, period: float) -> float:
        now = time.monotonic()
        interval = period / limit
        tat = max(self._tat.get(key, now), now)
        # The wait, computed from differences: ``tat + interval - period > now`` rounds, and
        # on a large clock reading a full bucket could refuse its first request by one ulp.
        wait = (tat - now) + (interval - period)
        if wait > _EPSILON:
            return wait
        if len(self._tat) >= self.max_keys:
            self._prune(now)
        self._tat[key] = tat + interval
        return 0.0

    async def refund(self, key: str, limit: int, period: float) -> None:
        if key in self._tat:
            self._tat[key] -= period / limit

    def _prune(self, now: float) -> None:
        """Forget buckets that are full again (their time is past); they would allow anyway."""
        self._tat = {k: v for k, v in self._tat.items() if v > now}
        if len(self._tat) >= self.max_keys:  # still full of active clients: drop the oldest half
            keep = sorted(self._tat.items(), key=lambda kv: kv[1])[len(self._tat) // 2 :]
            self._tat = dict(keep)


class RedisRateLimiter:
    """Buckets in Redis, shared by every process of the deployment."""

    def __init__(self, connection: Any, prefix: str, fallback: MemoryRateLimiter) -> None:
        self._connection = connection  # a callable returning the redis client (it may not exist yet)
        self.prefix = prefix
        self.fallback = fallback
        self._script: Any = None
        self._refund_script: Any = None
        self._client: Any = None
        self._warned_at = 0.0
        self._down_until = 0.0

    async def hit(self, key: str, limit: int, period: float) -> float:
        if time.monotonic() < self._down_until:
            return await self.fallback.hit(key, limit, period)
        try:
            client = self._connection()
            if self._script is None or client is not self._client:
                self._client, self._script = client, client.register_script(_GCRA)
                self._refund_script = client.register_script(_REFUND)
            wait_ms = await self._script(keys=[f"{self.prefix}:{key}"], args=[limit, math.ceil(period * 1000)])
        except (RedisError, OSError, RuntimeError) as err:
            self._down_until = time.monotonic() + REDIS_RETRY_SECONDS
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("rate limits fall back to this process's memory: Redis is unavailable (%s)", err)
            return await self.fallback.hit(key, limit, period)
        return int(wait_ms) / 1000

    async def refund(self, key: str, limit: int, period: float) -> None:
        if time.monotonic() < self._down_until or self._refund_script is None:
            await self.fallback.refund(key, limit, period)
            return
        try:
            await self._refund_script(keys=[f"{self.prefix}:{key}"], args=[limit, math.ceil(period * 1000)])
        except (RedisError, OSError, RuntimeError):
            await self.fallback.refund(key, limit, period)
