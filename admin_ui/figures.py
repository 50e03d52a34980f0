"""The dashboard's figures kept a few seconds per process, so many open dashboards cost one computation.

Each window's figures are computed by one request at a time (the others wait on it and share
its answer) and served until ``ttl`` seconds have passed; ``ttl`` 0 computes every time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


class FigureCache:
    """Figures per key (the window), each kept ``ttl`` seconds after it was computed."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._kept: dict[str, tuple[float, dict[str, Any]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, key: str, compute: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        """The figures of ``key``: the kept ones while fresh, else newly computed (once for concurrent callers)."""
        if self.ttl <= 0:
            return await compute()
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            kept = self._kept.get(key)
            if kept is not None and time.monotonic() - kept[0] < self.ttl:
                return kept[1]
            figures = await compute()
            self._kept[key] = (time.monotonic(), figures)
            return figures
