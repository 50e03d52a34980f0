"""API-key usage (count and last use), added up in memory and written in batches.

Writing both on every request would put a write, and a lock on the key's row, in the path
of every call a device makes. Revocation does not depend on these numbers (the key's row is
still read on every request), so they can lag: each process adds its own counts to the
row every ``interval`` seconds and when it stops. A crash loses at most one interval's
counts of that process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from core.storage.models import api_keys

if TYPE_CHECKING:
    from core.storage.db import Database

log = logging.getLogger("switchboard.auth")


@dataclass
class Usage:
    count: int
    last_used_at: datetime


class KeyUsage:
    def __init__(self, db: Database, interval: float) -> None:
        self.db = db
        self.interval = interval
        self._pending: dict[uuid.UUID, Usage] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def record(self, key_id: uuid.UUID, at: datetime, count: int = 1) -> None:
        usage = self._pending.get(key_id)
        if usage is None:
            self._pending[key_id] = Usage(count, at)
        else:
            usage.count += count
            usage.last_used_at = max(usage.last_used_at, at)

    def pending(self, key_id: uuid.UUID) -> Usage | None:
        """What this process has counted for the key and not written yet."""
        return self._pending.get(key_id)

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        try:
            async with self.db.transaction() as conn:
                for key_id, usage in batch.items():
                    last = api_keys.c.last_used_at
                    await conn.execute(
                        sa.update(api_keys)
                        .where(api_keys.c.id == key_id)
                        .values(
                            usage_count=api_keys.c.usage_count + usage.count,
                            # Another process may have written a later time already.
                            last_used_at=sa.case(
                                (sa.or_(last.is_(None), last < usage.last_used_at), usage.last_used_at), else_=last
                            ),
                        )
                    )
        except Exception:  # noqa: BLE001 - counts are kept for the next flush
            log.exception("writing API-key usage failed; will retry")
            for key_id, usage in batch.items():
                self.record(key_id, usage.last_used_at, usage.count)

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)
            await self.flush()

    async def start(self) -> None:
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name="api-key-usage")

    async def close(self) -> None:
        """Stop between two flushes, never in one, then write what is left.

        A flush cancelled mid-transaction would lose its batch and strand its database
        connection (on SQLite, with the write lock: the next writer fails "database is locked").
        """
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()
