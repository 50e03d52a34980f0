"""How many device readings a second the upload path accepts, on SQLite and on PostgreSQL.

    python bench/devices.py [--batches 30] [--size 1000] [--devices 2] [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Each batch is one ``POST /webhooks/devices`` to an in-process app, with a device's key: key
lookup, JSON, per-item validation and unit conversion, the readings' insert, the device's
status, rule evaluation, then the core's ingest of one message per reading (dedupe and the
message rows) in its own transaction. ``--devices`` uploaders run at once, each with its own
device. Printed per database: readings/s over every batch, and the median and slowest batch.
A PostgreSQL database is created for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402
import orjson  # noqa: E402

from core.testing import gateway_client, make_settings, user_headers  # noqa: E402

METRICS = [
    {"metric": "spo2", "value": 97, "unit": "%"},
    {"metric": "heart_rate", "value": 72, "unit": "bpm"},
    {"metric": "weight", "value": 154.2, "unit": "lb"},
    {"metric": "temperature", "value": 36.8, "unit": "°C"},
    {"metric": "blood_glucose", "value": 104, "unit": "mg/dL"},
    {"metric": "blood_pressure", "systolic": 124, "diastolic": 81, "unit": "mmHg"},
]


def batch_body(device: int, number: int, size: int) -> bytes:
    start = datetime.now(UTC) - timedelta(days=1)
    readings = [
        METRICS[i % len(METRICS)]
        | {
            "id": f"{device}-{number}-{i}",
            "subject": f"P-{device}-{i % 50}",
            "measured_at": (start + timedelta(seconds=i)).isoformat(),
        }
        for i in range(size)
    ]
    return orjson.dumps({"readings": readings})


async def uploader(client: Any, key: str, device: int, batches: int, size: int, times: list[float]) -> None:
    bodies = [batch_body(device, n, size) for n in range(batches)]
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    for body in bodies:
        started = time.perf_counter()
        response = await client.post("/webhooks/devices", content=body, headers=headers)
        times.append(time.perf_counter() - started)
        if response.status_code != 200 or response.json()["accepted"] != size:
            raise SystemExit(f"upload failed: {response.status_code} {response.text[:500]}")


async def run_on(label: str, database_url: str, batches: int, size: int, devices: int) -> None:
    settings = make_settings(tempfile.mkdtemp(), database_url=database_url)
    async with gateway_client(settings) as client:
        operator = await user_headers(client.gateway, "operator")
        keys = []
        for d in range(devices):
            body = {"serial": f"BENCH-{d}", "type": "wearable", "facility": "FAC-1"}
            keys.append((await client.post("/plugins/devices/devices", json=body, headers=operator)).json()["api_key"])
        warm: list[float] = []
        await uploader(client, keys[0], 99, 2, size, warm)  # first statements prepared, caches warm
        times: list[float] = []
        started = time.perf_counter()
        await asyncio.gather(*(uploader(client, keys[d], d, batches, size, times) for d in range(devices)))
        elapsed = time.perf_counter() - started
    total = batches * size * devices
    print(
        f"{label:<11} {total:>7} readings in batches of {size}, {devices} uploader(s): "
        f"{total / elapsed:8,.0f} readings/s   batch median {statistics.median(times) * 1000:6.1f} ms   "
        f"slowest {max(times) * 1000:6.1f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=30, help="batches per uploader")
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=2, help="concurrent uploaders")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin URL")
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    args = parser.parse_args()
    if args.only != "postgres":
        with tempfile.TemporaryDirectory() as tmp:
            await run_on("SQLite", f"sqlite+aiosqlite:///{tmp}/bench.db", args.batches, args.size, args.devices)
    if args.only == "sqlite":
        return
    name = f"bench_devices_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.pg)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        host = args.pg.split("://", 1)[1].rsplit("/", 1)[0]
        await run_on("PostgreSQL", f"postgresql+asyncpg://{host}/{name}", args.batches, args.size, args.devices)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
