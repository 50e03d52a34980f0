"""The queue interface. The database is the source of truth; a queue only carries ids."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol


class QueueBackend(Protocol):
    name: str

    async def start(self, *, consume: bool) -> None:
        """Connect; with ``consume``, also run jobs in this process (the local backend)."""

    async def close(self) -> None: ...

    async def enqueue(self, items: list[tuple[uuid.UUID, int]], *, at: datetime | None = None) -> None:
        """Enqueue ``(delivery_id, attempt_count)`` pairs, idempotently; ``at`` defers them."""

    async def ping(self) -> None:
        """Raise if the queue cannot be reached."""

    async def acquire_slot(self, destination: str, limit: int, ttl: float) -> str | None:
        """Take one of ``limit`` concurrent slots of ``destination``; ``None`` when all are taken."""

    async def release_slot(self, destination: str, token: str) -> None: ...

    async def enqueue_job(self, function: str, *args: Any, defer: float | None = None) -> None:
        """Run plugin job ``function(ctx, *args)`` (``switchboard_jobs``), after ``defer`` seconds."""
