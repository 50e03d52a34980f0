"""Background jobs that plugins contribute (``switchboard_jobs``) and the core's own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

JobFunction = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class CronJob:
    """Run ``function(ctx)`` every ``every`` seconds (a divisor of 60 s, 60 min or 24 h).

    Under arq it is an arq cron job of the worker; on the local backend it runs in-process.
    ``ctx["gateway"]`` is the gateway.
    """

    name: str
    function: JobFunction
    every: int
    run_at_startup: bool = False

    def __post_init__(self) -> None:
        if not any(
            self.every == n * unit and period % n == 0
            for unit, period in ((1, 60), (60, 60), (3600, 24))
            for n in range(1, period + 1)
        ):
            raise ValueError(f"CronJob {self.name!r}: every={self.every} does not divide a minute, hour or day")

    def arq_schedule(self) -> dict[str, set[int]]:
        if self.every < 60:
            return {"second": set(range(0, 60, self.every))}
        if self.every < 3600:
            return {"minute": set(range(0, 60, self.every // 60)), "second": {0}}
        return {"hour": set(range(0, 24, self.every // 3600)), "minute": {0}, "second": {0}}


def job_name(function: JobFunction) -> str:
    return getattr(function, "__qualname__", getattr(function, "__name__", repr(function)))
