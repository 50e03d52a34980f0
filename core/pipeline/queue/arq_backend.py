"""The arq backend: jobs on Redis, run by any number of ``switchboard worker`` processes.

Job ids are ``<queue name>:deliver:<delivery id>:<attempt count>``, so enqueueing the same
attempt twice (the sweeper racing the API) adds nothing, and a retry is a new job. Enqueueing a
job that is already waiting for a later time moves it earlier instead: a requeue of a
``retrying`` delivery (whose job waits out its backoff under the same id) runs now.

Every key the gateway writes carries ``[queue] name``, so deployments sharing a Redis database
leave each other alone. arq's own prefixes (``arq:job:``, ``arq:in-progress:``, ``arq:retry:``,
``arq:result:``) are module constants arq offers no setting for, so the queue name goes into
every job id instead (``arq:job:<queue name>:…``); the gateway's own keys (slots, cron ticks and
locks) start with it. Cron jobs do not go through arq at all: ``core.pipeline.cron`` runs them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.jobs import serialize_job

from core.pipeline.batching import GroupCommit
from core.pipeline.queue.base import QueueItem

if TYPE_CHECKING:
    from core.gateway import Gateway

log = logging.getLogger("switchboard.queue")

# Atomic "take as many of these tokens' slots as are free below ARGV[2]"; expired holders are
# dropped first, so a killed worker's slots come back after its lease. Returns how many of the
# tokens (in order) got a slot. ARGV: now ms, limit, expiry score, key ttl ms, tokens...
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local free = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1])
local n = math.min(free, #ARGV - 4)
if n <= 0 then
  return 0
end
for i = 1, n do
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4 + i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return n
"""


BATCH = 100  # deliveries per arq job: one Redis transaction carries a whole ingest batch
_EXPIRES_EXTRA_MS = 86_400_000  # what arq gives a job to be started: a day past its due time


# arq's enqueue_job, for many jobs in one round trip: a job whose key or result exists is
# not stored again (the same test arq makes under WATCH), but if it still waits in the queue
# for a later time it is moved to this one (ZADD XX LT: only an existing entry, only earlier;
# a running job is guarded by arq's in-progress key and the delivery claim, so nothing runs
# twice). Otherwise its payload is stored with an expiry and its id scheduled.
# KEYS: queue; ARGV: expiry-extra ms, then triples (job id, score ms, payload).
_ENQUEUE = """
local added = 0
for i = 2, #ARGV, 3 do
  local id = ARGV[i]
  local job_key = 'arq:job:' .. id
  local score = tonumber(ARGV[i + 1])
  if redis.call('EXISTS', job_key, 'arq:result:' .. id) > 0 then
    redis.call('ZADD', KEYS[1], 'XX', 'LT', score, id)
  else
    local now = tonumber(redis.call('TIME')[1]) * 1000
    local expires = math.max(score - now, 0) + tonumber(ARGV[1])
    redis.call('SET', job_key, ARGV[i + 2], 'PX', expires)
    redis.call('ZADD', KEYS[1], score, id)
    added = added + 1
  end
end
return added
"""


def deliver_job_id(items: list[QueueItem]) -> str:
    """Stable for one delivery's attempt (so re-enqueueing it is a no-op), and for one batch."""
    if len(items) == 1:
        return f"deliver:{items[0].delivery_id}:{items[0].attempt}"
    digest = hashlib.blake2b(digest_size=12)
    for item in items:
        digest.update(item.delivery_id.bytes + item.attempt.to_bytes(4, "big", signed=True))
    return f"deliver-batch:{digest.hexdigest()}"


# Delete the key only if it still holds this token (a run's lock that expired may be another's now).
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class ArqQueue:
    name = "arq"

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.settings = gateway.settings.queue
        self.queue_name = f"{self.settings.name}:queue"
        self._pool: ArqRedis | None = None
        self._acquire: Any = None
        self._enqueue: Any = None
        self._unlock: Any = None
        # A worker runs many deliveries at once: their slot round trips are batched.
        self._slot_requests: GroupCommit[tuple[str, int, float, str], bool] = GroupCommit(
            self._acquire_batch, name="slot-acquire"
        )
        self._slot_releases: GroupCommit[tuple[str, str], None] = GroupCommit(self._release_batch, name="slot-release")

    @property
    def redis_settings(self) -> RedisSettings:
        return RedisSettings.from_dsn(self.settings.redis_url)

    async def _connect(self) -> ArqRedis:
        if self._pool is None:
            # One quick try: an unreachable Redis must not stall the request path; the
            # sweeper enqueues later.
            settings = self.redis_settings
            settings.conn_retries = 0
            settings.conn_timeout = 2
            self._pool = await create_pool(settings, default_queue_name=self.queue_name)
            self._acquire = self._pool.register_script(_ACQUIRE)
            self._enqueue = self._pool.register_script(_ENQUEUE)
            self._unlock = self._pool.register_script(_UNLOCK)
        return self._pool

    @property
    def redis(self) -> ArqRedis:
        if self._pool is None:
            raise RuntimeError("the arq queue is not connected")
        return self._pool

    async def start(self, *, consume: bool) -> None:
        try:
            await self._connect()
        except Exception as err:  # noqa: BLE001 - Redis may come later; readyz reports it
            log.warning("Redis is not reachable at start-up (%s); will retry on use", err)

    async def close(self) -> None:
        await self._slot_requests.close()
        await self._slot_releases.close()
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None

    async def enqueue(self, items: list[QueueItem], *, at: datetime | None = None) -> int:
        """Enqueue deliveries as ``deliver`` jobs of up to ``BATCH`` each, in one round trip.

        Returns how many jobs were new (the rest were already queued or running; a queued one
        waiting for a later time is moved to this one).
        """
        if not items:
            return 0
        await self._connect()
        now_ms = int(time.time() * 1000)
        score = max(int(at.timestamp() * 1000), now_ms) if at else now_ms
        args: list[Any] = [_EXPIRES_EXTRA_MS]
        for i in range(0, len(items), BATCH):
            chunk = items[i : i + BATCH]
            payload = serialize_job(
                "deliver", ([(str(it.delivery_id), it.destination) for it in chunk],), {}, None, now_ms
            )
            args += [self.job_id(deliver_job_id(chunk)), score, payload]
        return int(await self._enqueue(keys=[self.queue_name], args=args))

    async def enqueue_job(
        self, function: str, *args: Any, defer: float | None = None, job_id: str | None = None
    ) -> None:
        pool = await self._connect()
        await pool.enqueue_job(function, *args, _job_id=self.job_id(job_id or uuid.uuid4().hex), _defer_by=defer)

    def job_id(self, job_id: str) -> str:
        """The arq job id of ``job_id`` in this deployment: arq keys its job by it (``arq:job:<id>``)."""
        return f"{self.settings.name}:{job_id}"

    async def ping(self) -> None:
        pool = await self._connect()
        await pool.ping()

    def _slot_key(self, destination: str) -> str:
        return f"{self.settings.name}:slots:{destination}"

    async def acquire_slot(self, destination: str, limit: int, ttl: float) -> str | None:
        await self._connect()
        token = uuid.uuid4().hex
        # Slots held by other processes are polled briefly; then the delivery is deferred.
        for _ in range(40):
            if await self._slot_requests.submit((destination, limit, ttl, token)):
                return token
            await asyncio.sleep(0.025)
        return None

    async def release_slot(self, destination: str, token: str) -> None:
        await self._slot_releases.submit((destination, token))

    async def claim_tick(self, job: str, tick: datetime, *, ttl: float) -> bool:
        pool = await self._connect()
        key = f"{self.settings.name}:cron:{job}:{int(tick.timestamp() * 1000)}"
        return bool(await pool.set(key, b"1", nx=True, px=int(ttl * 1000)))

    async def lock_job(self, job: str, *, ttl: float) -> str | None:
        pool = await self._connect()
        token = uuid.uuid4().hex
        taken = await pool.set(f"{self.settings.name}:cron-running:{job}", token, nx=True, px=int(ttl * 1000))
        return token if taken else None

    async def unlock_job(self, job: str, token: str) -> None:
        await self._connect()
        await self._unlock(keys=[f"{self.settings.name}:cron-running:{job}"], args=[token])

    async def _acquire_batch(self, requests: list[tuple[str, int, float, str]]) -> list[bool]:
        """Concurrent acquisitions in one round trip: a script call per destination, pipelined."""
        by_destination: dict[str, list[int]] = {}
        for i, (destination, *_rest) in enumerate(requests):
            by_destination.setdefault(destination, []).append(i)
        now_ms = int(time.time() * 1000)
        calls = []
        for destination, indexes in by_destination.items():
            _, limit, ttl, _ = requests[indexes[0]]
            ttl_ms = int(ttl * 1000)
            tokens = [requests[i][3] for i in indexes]
            calls.append(([self._slot_key(destination)], [now_ms, limit, now_ms + ttl_ms, ttl_ms * 2, *tokens]))
        if len(calls) == 1:
            # One destination (the usual case): no pipeline, whose execute first asks SCRIPT EXISTS.
            taken = [await self._acquire(keys=calls[0][0], args=calls[0][1])]
        else:
            async with self.redis.pipeline(transaction=False) as pipe:
                for keys, args in calls:
                    await self._acquire(keys=keys, args=args, client=pipe)
                taken = await pipe.execute()
        granted = [False] * len(requests)
        for (_, indexes), n in zip(by_destination.items(), taken, strict=True):
            for i in indexes[: int(n)]:
                granted[i] = True
        return granted

    async def _release_batch(self, releases: list[tuple[str, str]]) -> list[None]:
        by_destination: dict[str, list[str]] = {}
        for destination, token in releases:
            by_destination.setdefault(destination, []).append(token)
        if len(by_destination) == 1:
            [(destination, tokens)] = by_destination.items()
            await self.redis.zrem(self._slot_key(destination), *tokens)
            return [None] * len(releases)
        async with self.redis.pipeline(transaction=False) as pipe:
            for destination, tokens in by_destination.items():
                pipe.zrem(self._slot_key(destination), *tokens)
            await pipe.execute()
        return [None] * len(releases)
