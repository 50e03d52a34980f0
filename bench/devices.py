"""How many device readings a second the upload path accepts, on SQLite and on PostgreSQL.

    python bench/devices.py [--batches 30] [--size 1000] [--devices 2] [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Each batch is one ``POST /webhooks/devices`` to an in-process app, with a device's key: key
lookup, JSON, per-item validation and unit conversion, the readings' insert, the device's
status, rule evaluation, then the core's ingest of one message per reading (dedupe and the
message rows) in its own transaction. ``--devices`` uploaders run at once, each with its own
device. Printed per database: readings/s over every batch, the median and slowest batch, and
the CPU time per reading of this process (the app and its in-process client) and, on
PostgreSQL, of the server backends serving the bench database. On a shared, busy host the
CPU figures are the ones to compare: wall time also counts waiting for other processes.
A PostgreSQL database is created for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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


async def uploader(client: Any, key: str, bodies: list[bytes], size: int, times: list[float]) -> None:
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    for body in bodies:
        started = time.perf_counter()
        response = await client.post("/webhooks/devices", content=body, headers=headers)
        times.append(time.perf_counter() - started)
        if response.status_code != 200 or response.json()["accepted"] != size:
            raise SystemExit(f"upload failed: {response.status_code} {response.text[:500]}")


def _cpu_of(pid: int) -> float | None:
    """User + system CPU seconds of a process (None: it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def backend_cpu(admin_url: str | None, database: str | None) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to ``database`` (same host only)."""
    if admin_url is None or database is None:
        return {}
    conn = await asyncpg.connect(admin_url)
    try:
        pids = [r[0] for r in await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)]
    finally:
        await conn.close()
    return {pid: cpu for pid in pids if (cpu := _cpu_of(pid)) is not None}


async def run_on(
    label: str,
    database_url: str,
    batches: int,
    size: int,
    devices: int,
    admin_url: str | None = None,
    database: str | None = None,
) -> None:
    settings = make_settings(tempfile.mkdtemp(), database_url=database_url)
    async with gateway_client(settings) as client:
        operator = await user_headers(client.gateway, "operator")
        keys = []
        for d in range(devices):
            body = {"serial": f"BENCH-{d}", "type": "wearable", "facility": "FAC-1"}
            keys.append((await client.post("/plugins/devices/devices", json=body, headers=operator)).json()["api_key"])
        warm: list[float] = []
        # First statements prepared, caches warm.
        await uploader(client, keys[0], [batch_body(99, n, size) for n in range(2)], size, warm)
        times: list[float] = []
        bodies = [[batch_body(d, n, size) for n in range(batches)] for d in range(devices)]
        backends = await backend_cpu(admin_url, database)
        cpu = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(uploader(client, keys[d], bodies[d], size, times) for d in range(devices)))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        after = await backend_cpu(admin_url, database)
    total = batches * size * devices
    pg = sum(seconds - backends.get(pid, 0.0) for pid, seconds in after.items())
    print(
        f"{label:<11} {total:>7} readings in batches of {size}, {devices} uploader(s): "
        f"{total / elapsed:8,.0f} readings/s   batch median {statistics.median(times) * 1000:6.1f} ms   "
        f"slowest {max(times) * 1000:6.1f} ms   CPU per reading: process {cpu / total * 1e6:5.1f} µs"
        + (f", PostgreSQL {pg / total * 1e6:5.1f} µs" if admin_url else "")
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
        url = f"postgresql+asyncpg://{host}/{name}"
        await run_on("PostgreSQL", url, args.batches, args.size, args.devices, args.pg, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
