"""What the devices plugin erases and exports of a person (docs/privacy.md): a *subject* is the person a
device measures. Erasure anonymises: readings and alerts keep their values and times (volumes and
aggregates still add up) and lose the subject; a device assigned to them is unassigned."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from core import Gateway
from plugins.devices.models import alert_quiet, alerts, devices, readings


async def erase_participant(gateway: Gateway, participant: str) -> dict[str, int]:
    match = gateway.privacy.match
    async with gateway.db.transaction() as conn:
        counts = {
            "device_readings": await conn.execute(
                sa.update(readings).where(match(readings.c.subject, participant)).values(subject=None)
            ),
            "device_alerts": await conn.execute(
                sa.update(alerts).where(match(alerts.c.subject, participant)).values(subject=None, detail={})
            ),
            "device_alert_quiet": await conn.execute(
                sa.delete(alert_quiet).where(match(alert_quiet.c.subject, participant))
            ),
            "devices": await conn.execute(
                sa.update(devices).where(match(devices.c.subject, participant)).values(subject=None)
            ),
        }
    return {table: int(result.rowcount or 0) for table, result in counts.items()}


async def export_participant(gateway: Gateway, participant: str) -> dict[str, list[dict[str, Any]]]:
    match = gateway.privacy.match
    columns = [c for c in readings.c if c.name != "id"]
    async with gateway.db.transaction() as conn:
        found = {
            "device_readings": await conn.execute(sa.select(*columns).where(match(readings.c.subject, participant))),
            "device_alerts": await conn.execute(sa.select(alerts).where(match(alerts.c.subject, participant))),
            "devices": await conn.execute(
                sa.select(devices.c.serial, devices.c.type, devices.c.model, devices.c.facility).where(
                    match(devices.c.subject, participant)
                )
            ),
        }
        return {table: [dict(r._mapping) for r in result] for table, result in found.items()}
