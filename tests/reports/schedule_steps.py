"""Steps shared by the scheduled-report tests: a mail server, a recording destination, a tick run to its end."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from core import DeliveryResult, Destination, hookimpl
from core.gateway import Gateway
from plugins.reports import scheduler, service
from plugins.reports.models import report_schedule_runs

SCHEDULES = "/plugins/reports/schedules"
PUBLIC_URL = "http://testserver"


class Recorder(Destination):
    """A destination that keeps what it is given."""

    name = "archive"

    def __init__(self) -> None:
        self.received: list[Any] = []

    async def deliver(self, message: Any, delivery: Any) -> DeliveryResult:
        self.received.append(message)
        return DeliveryResult(status_code=200)


class RecorderPlugin:
    def __init__(self) -> None:
        self.destination = Recorder()

    @hookimpl
    def switchboard_destinations(self) -> list[Destination]:
        return [self.destination]


def daily(name: str = "daily-failures", **fields: Any) -> dict[str, Any]:
    """A schedule of the failures report, every day at 06:00, e-mailed to two people."""
    return {
        "name": name,
        "every": "day",
        "at": "06:00",
        "type": "failures",
        "format": "csv",
        "params": {"period": "last_day"},
        "recipients": ["ops@example.org", "lead@example.org"],
        **fields,
    }


def at_six(minutes: int = 1) -> datetime:
    """A moment ``minutes`` after today's 06:00 UTC tick."""
    return datetime.now(UTC).replace(hour=6, minute=minutes, second=0, microsecond=0)


async def runs(gateway: Gateway) -> list[Any]:
    async with gateway.db.transaction() as conn:
        return list((await conn.execute(report_schedule_runs.select())).all())


async def settled(*gateways: Gateway) -> list[Any]:
    """Generate the pending reports and deliver what ended, until no run is waiting; the runs."""
    for _ in range(500):
        for gateway in gateways:
            await service.pick_up(gateway, older_than=0, run=True)
            await scheduler.deliver_ready(gateway)
        found = await runs(gateways[0])
        if all(r.state in ("delivered", "failed") for r in found):
            return found
        await asyncio.sleep(0.01)  # a run being delivered by the in-process queue's task: let it end
    raise AssertionError(f"runs did not settle: {found}")


async def scheduled_reports(gateway: Gateway) -> list[Any]:
    from plugins.reports.models import reports

    async with gateway.db.transaction() as conn:
        return list((await conn.execute(sa.select(reports).order_by(reports.c.id))).all())
