"""The plugin's worker job (generate one report) and cron jobs (pick up lost ones, purge old ones)."""

from __future__ import annotations

import uuid
from typing import Any

from core import CronJob
from plugins.reports import service


async def reports_generate(ctx: dict[str, Any], report_id: str) -> None:
    """Generate one report (a no-op when another worker claimed it first)."""
    await service.generate(ctx["gateway"], uuid.UUID(report_id))


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
    ]
