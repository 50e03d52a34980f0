"""The plugin's worker job (generate one report) and cron jobs (pick up lost ones, purge old ones)."""

from __future__ import annotations

import uuid
from typing import Any

from core import CronJob
from plugins.reports import scheduler, service


async def reports_generate(ctx: dict[str, Any], report_id: str) -> None:
    """Generate one report (a no-op when another worker claimed it first); deliver it if scheduled."""
    if await service.generate(ctx["gateway"], uuid.UUID(report_id)) is not None:
        await scheduler.deliver_ready(ctx["gateway"], uuid.UUID(report_id))


async def reports_schedules(ctx: dict[str, Any]) -> int:
    """Start the scheduled reports whose time has come; deliver those that ended."""
    return await scheduler.tick(ctx["gateway"])


async def reports_pick_up(ctx: dict[str, Any]) -> int:
    """Enqueue again the reports left pending (their enqueue was lost), fail those whose worker died."""
    return await service.pick_up(ctx["gateway"])


async def reports_purge(ctx: dict[str, Any]) -> int:
    """Delete reports and files past ``retention_days``."""
    return await service.purge(ctx["gateway"])


def jobs() -> list[Any]:
    return [
        reports_generate,
        CronJob("reports_pick_up", reports_pick_up, every=60),
        CronJob("reports_purge", reports_purge, every=3600),
        CronJob("reports_schedules", reports_schedules, every=60),
    ]
