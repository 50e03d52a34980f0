"""Waiting on a condition in tests: the one wait helper (``core.testing.wait_until``)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


@overload
async def wait_until(
    check: Callable[[], Awaitable[T | None]], *, timeout: float = ..., interval: float = ..., message: str | None = ...
) -> T: ...
@overload
async def wait_until(
    check: Callable[[], T | None], *, timeout: float = ..., interval: float = ..., message: str | None = ...
) -> T: ...
async def wait_until(
    check: Callable[[], Any],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str | None = None,
) -> Any:
    """Call ``check`` (a function or a coroutine function) until it returns something truthy; return that.

    ``check`` runs at once, then every ``interval`` seconds. After ``timeout`` seconds it
    raises ``AssertionError`` naming what was awaited (``message``, else ``check``'s name)
    and the last value ``check`` returned. An exception from ``check`` ends the wait at once.
    A check whose answer may rightly be empty or zero returns ``True`` instead; read the
    answer after the wait.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() >= deadline:
            what = message or getattr(check, "__name__", repr(check))
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {value!r}")
        await asyncio.sleep(interval)
