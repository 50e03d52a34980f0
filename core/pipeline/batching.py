"""Group commit: callers submit one item each and wait; a background task writes whatever has
accumulated in one go.

Under load a batch holds many items and costs a few round trips; at rest a batch holds one
item and nothing waits for a timer. One bad item never fails the others: a failed batch is
retried item by item.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger("switchboard.batching")


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[Sequence[R]]],
        *,
        max_batch: int = 500,
        in_flight: int = 1,
        name: str = "group-commit",
    ) -> None:
        self._write = write
        self._max = max_batch
        self._name = name
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # Batches written at once: while one waits on the database the next can be under way.
        self._slots = asyncio.Semaphore(in_flight)
        self._writers: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=self._name)
        self._wake.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                await self._slots.acquire()
                batch, self._pending = self._pending[: self._max], self._pending[self._max :]
                writer = asyncio.create_task(self._flush_and_release(batch))
                self._writers.add(writer)
                writer.add_done_callback(self._writers.discard)
            if self._closing:
                while self._writers:
                    await asyncio.gather(*self._writers)
                return

    async def _flush_and_release(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            await self._flush(batch)
        finally:
            self._slots.release()

    async def _flush(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._write([item for item, _ in batch])
        except Exception as err:
            if len(batch) > 1:
                for one in batch:
                    await self._flush([one])
                return
            log.exception("%s: writing an item failed", self._name)
            if not batch[0][1].done():
                batch[0][1].set_exception(err)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def close(self) -> None:
        """Write what is pending, then stop. Never cancels a write under way (callers wait on it)."""
        self._closing = True
        self._wake.set()
        if self._task is not None and not self._task.done():
            await self._task
        self._task = None
        while self._pending:
            batch, self._pending = self._pending[: self._max], self._pending[self._max :]
            await self._flush(batch)
        self._closing = False
