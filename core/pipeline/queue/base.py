"""The queue interface. The database is the source of truth; a queue only carries ids."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple, Protocol


class QueueItem(NamedTuple):
    """One delivery to attempt: its id, the attempts made so far, and its destination."""

    delivery_id: uuid.UUID
    attempt: int
    destination: str


class QueueBackend(Protocol):
    name: str

    async def start(self, *, consume: bool) -> None:
        """Connect; with ``consume``, also run jobs in this process (the local backend)."""

    async def close(self) -> None: ...

    async def enqueue(self, items: list[QueueItem], *, at: datetime | None = None) -> int | None:
        """Enqueue deliveries, idempotently per (delivery, attempt); ``at`` defers them.

        Returns how many were newly queued where the backend knows (``None`` otherwise).
        """

    async def enqueue_job(self, function: str, *args: Any, defer: float | None = None) -> None:
        """Run a plugin job (``switchboard_jobs``) in a worker."""

    async def ping(self) -> None:
        """Raise if the queue cannot be reached."""

    async def acquire_slot(self, destination: str, limit: int, ttl: float) -> str | None:
        """Take one of ``limit`` slots of ``destination`` across all processes; ``None`` if all are taken."""

    async def release_slot(self, destination: str, token: str) -> None: ...

    async def claim_tick(self, job: str, tick: datetime, *, ttl: float) -> bool:
        """Whether this process runs cron job ``job``'s ``tick``: true for one process of the deployment."""

    async def lock_job(self, job: str, *, ttl: float) -> str | None:
        """Hold cron job ``job``'s run lock across processes (for ``ttl`` s at most); ``None`` if a run holds it."""

    async def unlock_job(self, job: str, token: str) -> None: ...
