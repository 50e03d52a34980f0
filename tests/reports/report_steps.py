"""Steps shared by the reports tests: seed records, ask for a report, wait for it, download it."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl

from core.gateway import Gateway
from core.storage.ids import uuid7
from core.storage.models import audit_log, deliveries, messages
from core.testing import GatewayClient
from plugins.reports import service

BASE = "/plugins/reports"
REPORTS = f"{BASE}/reports"


def period(days_before: int = 1, days_after: int = 1) -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"start": str(today - timedelta(days=days_before)), "end": str(today + timedelta(days=days_after))}


async def seed(gateway: Gateway) -> None:
    """Three messages, four deliveries (two delivered, one dead with a formula-like error, one retrying), audit rows."""
    now = datetime.now(UTC)
    message_rows = [
        {
            "id": uuid7(),
            "platform": platform,
            "external_id": f"ext-{i}",
            "direction": "in",
            "kind": kind,
            "media": [],
            "timestamp": now,
            "extra": {},
            "received_at": now,
        }
        for i, (platform, kind) in enumerate([("whatsapp", "text"), ("whatsapp", "text"), ("helpline", "case")])
    ]
    delivery_rows = []
    for i, (destination, status, took) in enumerate(
        [("crm", "delivered", 2.0), ("crm", "delivered", 4.0), ("crm", "dead", None), ("dhis2", "retrying", None)]
    ):
        delivery_rows.append(
            {
                "id": uuid7(),
                "message_id": message_rows[i % 3]["id"],
                "destination": destination,
                "platform": message_rows[i % 3]["platform"],
                "status": status,
                "attempt_count": 1,
                "max_attempts": 8,
                "options": {},
                "idempotency_key": f"key-{i}",
                "created_at": now,
                "updated_at": now,
                "delivered_at": now + timedelta(seconds=took) if took is not None else None,
                "last_error": '=HYPERLINK("http://evil")' if status == "dead" else None,
                "last_status_code": 400 if status == "dead" else None,
                # Far ahead: the sweeper must leave the retrying one alone.
                "next_attempt_at": now + timedelta(days=30) if status == "retrying" else None,
            }
        )
    async with gateway.db.transaction() as conn:
        await conn.execute(messages.insert(), message_rows)
        await conn.execute(deliveries.insert(), delivery_rows)
        await conn.execute(
            audit_log.insert(),
            [{"at": now, "kind": "admin", "action": f"test-{i}", "actor": "user:someone"} for i in range(3)],
        )


async def ask(client: GatewayClient, headers: dict[str, str], type_: str, fmt: str = "csv", **params: Any) -> str:
    r = await client.post(REPORTS, json={"type": type_, "format": fmt, "params": params or period()}, headers=headers)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending"
    return str(r.json()["id"])


async def finished(client: GatewayClient, report_id: str, headers: dict[str, str]) -> dict[str, Any]:
    """Generate what is pending here (the stack's worker may be elsewhere) and wait for the report to end."""
    await service.pick_up(client.gateway, older_than=0, run=True)
    for _ in range(500):
        body: dict[str, Any] = (await client.get(f"{REPORTS}/{report_id}", headers=headers)).json()
        if body["status"] in ("completed", "failed"):
            return body
        await asyncio.sleep(0.01)  # the in-process queue's task holds it: let it run
    raise AssertionError(f"report {report_id} did not finish: {body}")


async def download(client: GatewayClient, report: dict[str, Any]) -> bytes:
    r = await client.get(report["download_url"])
    assert r.status_code == 200, r.text
    return r.content


def parse(fmt: str, content: bytes) -> list[dict[str, Any]]:
    """The rows of a downloaded file as dicts by column (every value as the format gives it)."""
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(content.decode())))
    if fmt == "json":
        return list(json.loads(content)["rows"])
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    sheet = book.worksheets[0]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    book.close()
    width = len(values[0])  # read-only sheets drop a row's trailing empty cells
    return [dict(zip(values[0], row + [None] * (width - len(row)), strict=True)) for row in values[1:]]
