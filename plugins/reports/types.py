"""The built-in report types: message volume, delivery outcomes, failures and the audit extract.

Each reads the core's records through ``core.exports`` (keyset streams and database
aggregates), never the core's tables directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

from core import Gateway, ReportType, check_period, exports, period_of

WAITING = ("pending", "queued", "running")


class PeriodReport(ReportType):
    """A report over a period: ``params`` are ``start``/``end`` or a relative ``period``."""

    max_days: ClassVar[int] = 366

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return check_period(params, max_days=self.max_days)


class MessageVolume(PeriodReport):
    name = "message_volume"
    title = "Messages per day, platform and kind"
    columns = ("day", "platform", "kind", "direction", "count")

    async def rows(self, gateway: Gateway, params: dict[str, Any]) -> AsyncIterator[Sequence[Any]]:
        async for row in exports.message_volume(gateway.db, *period_of(params)):
            yield [row[c] for c in self.columns]


class DeliveryOutcomes(PeriodReport):
    name = "delivery_outcomes"
    title = "Delivery outcomes per destination"
    columns = (
        "destination",
        "total",
        "delivered",
        "retrying",
        "dead",
        "waiting",
        "cancelled",
        "mean_seconds_to_delivery",
        "p95_seconds_to_delivery",
    )

    async def rows(self, gateway: Gateway, params: dict[str, Any]) -> AsyncIterator[Sequence[Any]]:
        async for row in exports.delivery_outcomes(gateway.db, *period_of(params)):
            counts: dict[str, int] = row["statuses"]
            yield [
                row["destination"],
                sum(counts.values()),
                counts.get("delivered", 0),
                counts.get("retrying", 0),
                counts.get("dead", 0),
                sum(counts.get(s, 0) for s in WAITING),
                counts.get("cancelled", 0),
                row["delivered_mean_seconds"],
                row["delivered_p95_seconds"],
            ]


class Failures(PeriodReport):
    name = "failures"
    title = "Dead deliveries with their last error"
    columns = exports.DEAD_FIELDS

    async def rows(self, gateway: Gateway, params: dict[str, Any]) -> AsyncIterator[Sequence[Any]]:
        async for row in exports.dead_deliveries(gateway.db, *period_of(params)):
            yield [row[c] for c in self.columns]


class AuditExtract(PeriodReport):
    name = "audit"
    title = "Audit log extract"
    columns = exports.AUDIT_FIELDS
    admin_only = True

    async def rows(self, gateway: Gateway, params: dict[str, Any]) -> AsyncIterator[Sequence[Any]]:
        async for row in exports.audit_entries(gateway.db, *period_of(params)):
            yield [row[c] for c in self.columns]


BUILT_IN: tuple[type[ReportType], ...] = (MessageVolume, DeliveryOutcomes, Failures, AuditExtract)
