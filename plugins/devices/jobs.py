"""The silent-device job: a device not heard from for ``silent_after`` seconds is marked silent and alerts once.

The status change is the claim: only the process whose update moves a device from active
to silent raises its alert, and the device stays silent (no more alerts) until it speaks again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core import CronJob, Gateway
from plugins.devices.alerts import alert_message, raise_silent_alerts
from plugins.devices.models import devices
from plugins.devices.settings import DevicesSettings


async def mark_silent_devices(gateway: Gateway, now: datetime | None = None) -> int:
    """Mark silent the active devices not heard from in time and submit their alerts; returns how many."""
    settings: DevicesSettings = gateway.plugin_config("devices")
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(seconds=settings.silent_after)
    heard = sa.func.coalesce(devices.c.last_seen_at, devices.c.created_at)
    async with gateway.db.transaction() as conn:
        silent = list(
            await conn.execute(
                devices.update()
                .where(devices.c.status == "active", heard < cutoff)
                .values(status="silent", updated_at=now)
                .returning(
                    devices.c.id,
                    devices.c.serial,
                    devices.c.type,
                    devices.c.facility,
                    devices.c.subject,
                    devices.c.last_seen_at,
                )
            )
        )
        rows = await raise_silent_alerts(conn, silent, now)
    if rows:
        await gateway.submit([alert_message(row) for row in rows])
    return len(rows)


async def devices_silent_check(ctx: dict[str, Any]) -> None:
    """Cron entry point (``ctx["gateway"]``)."""
    await mark_silent_devices(ctx["gateway"])


def silent_job(settings: DevicesSettings) -> CronJob:
    return CronJob("devices_silent_check", devices_silent_check, every=settings.silent_check_every)
