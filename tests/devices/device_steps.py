"""Helpers of the devices plugin's tests: register a device through the API, upload readings with its key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.testing import user_headers

DEVICES = "/plugins/devices/devices"
UPLOAD = "/webhooks/devices"


async def register(client: Any, serial: str = "SN-1", **fields: Any) -> tuple[dict[str, Any], str]:
    """A device registered by an operator: (its view, its API key)."""
    body = {"serial": serial, "type": "pulse_oximeter", "model": "PX-100", "facility": "FAC-001", "subject": "P-1"}
    r = await client.post(DEVICES, json=body | fields, headers=await user_headers(client.gateway, "operator"))
    assert r.status_code == 201, r.text
    device = r.json()
    return device, device.pop("api_key")


def when(minutes_ago: float = 5) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


def reading(reading_id: str, metric: str = "spo2", value: float = 97, unit: str = "%", **more: Any) -> dict[str, Any]:
    return {"id": reading_id, "metric": metric, "value": value, "unit": unit, "measured_at": when()} | more


async def upload(client: Any, key: str, readings: list[Any], status: int = 200) -> Any:
    r = await client.post(UPLOAD, json={"readings": readings}, headers={"X-API-Key": key})
    assert r.status_code == status, r.text
    return r.json()
