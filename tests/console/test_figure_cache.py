"""The dashboard's figure cache: one computation shared by every viewer while it is fresh."""

from __future__ import annotations

import asyncio
from typing import Any

from admin_ui.figures import FigureCache


class Counter:
    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    async def compute(self) -> dict[str, Any]:
        self.calls += 1
        self.started.set()
        await self.release.wait()
        return {"n": self.calls}


async def test_concurrent_viewers_share_one_computation() -> None:
    cache, counter = FigureCache(60), Counter()
    waiting = [asyncio.create_task(cache.get("24h", counter.compute)) for _ in range(5)]
    await counter.started.wait()
    counter.release.set()
    assert [f["n"] for f in await asyncio.gather(*waiting)] == [1] * 5
    assert counter.calls == 1


async def test_fresh_figures_are_served_again_without_computing() -> None:
    cache, counter = FigureCache(60), Counter()
    counter.release.set()
    await cache.get("24h", counter.compute)
    assert await cache.get("24h", counter.compute) == {"n": 1}


async def test_each_window_has_its_own_figures() -> None:
    cache, counter = FigureCache(60), Counter()
    counter.release.set()
    await cache.get("24h", counter.compute)
    assert await cache.get("7d", counter.compute) == {"n": 2}


async def test_a_cache_of_zero_seconds_computes_every_time() -> None:
    cache, counter = FigureCache(0), Counter()
    counter.release.set()
    await cache.get("24h", counter.compute)
    assert await cache.get("24h", counter.compute) == {"n": 2}


async def test_expired_figures_are_computed_again() -> None:
    cache, counter = FigureCache(60), Counter()
    counter.release.set()
    await cache.get("24h", counter.compute)
    kept_at, figures = cache._kept["24h"]
    cache._kept["24h"] = (kept_at - 61, figures)  # kept a minute ago: no clock is waited on
    assert await cache.get("24h", counter.compute) == {"n": 2}
