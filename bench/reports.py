"""Memory and speed of a 1,000,000-row report: the audit extract of a seeded SQLite table, as CSV and XLSX.

    python bench/reports.py [--rows 1000000] [--formats csv,xlsx]

The audit log is seeded once (SQLAlchemy Core, 20,000 rows a statement); then each format is
generated in a fresh child process, through the plugin's own path (claim, keyset stream from
``core.exports``, writer in a thread, move into the local storage), so its peak RSS is the
report's alone. Printed per format: rows, seconds, rows/s, file size and peak RSS (with the
RSS of the same child before generating, i.e. the app and its imports), and whether openpyxl
wrote XLSX through lxml (``OPENPYXL_LXML=False`` in the environment turns it off, for a
comparison on the same machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from core.testing import gateway_client, make_settings  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed(tmp: Path, rows: int) -> None:
    from core.storage import migrate
    from core.storage.models import audit_log

    settings = make_settings(tmp)
    migrate.upgrade(settings)
    engine = sa.create_engine(f"sqlite:///{tmp / 'switchboard-test.db'}")
    step = 20_000
    with engine.begin() as conn:
        for first in range(0, rows, step):
            conn.execute(
                audit_log.insert(),
                [
                    {
                        "at": START + timedelta(seconds=n),
                        "kind": "request",
                        "action": "webhook",
                        "request_id": uuid.uuid4().hex,
                        "actor": f"api_key:device-{n % 500}",
                        "actor_type": "api_key",
                        "method": "POST",
                        "path": "/webhooks/devices",
                        "status": 200,
                        "duration_ms": 3.5,
                        "client": "10.0.0.1",
                    }
                    for n in range(first, min(first + step, rows))
                ],
            )
    engine.dispose()


async def generate(tmp: Path, fmt: str) -> dict[str, object]:
    from openpyxl import LXML

    from plugins.reports import service

    settings = make_settings(tmp)
    async with gateway_client(settings, migrate=False) as client:
        gateway = client.gateway
        params = {"start": START.isoformat(), "end": (START + timedelta(days=366)).isoformat()}
        # The queue would run it at once: keep the enqueue out of the way and generate here.
        gateway.queue.enqueue_job = _nothing  # type: ignore[method-assign]
        row = await service.create(
            gateway, owner="system:bench", owner_label="bench", type_name="audit", fmt=fmt, params=params
        )
        before = rss_mb()
        began = time.perf_counter()
        status = await service.generate(gateway, row.id)
        took = time.perf_counter() - began
        done = await service.get(gateway, row.id, None)
    return {
        "format": fmt,
        "status": status,
        "rows": done.row_count,
        "seconds": round(took, 1),
        "rows_per_s": int((done.row_count or 0) / took),
        "size_mb": round((done.size_bytes or 0) / 1e6, 1),
        "rss_before_mb": round(before),
        "peak_rss_mb": round(rss_mb()),
        "lxml": LXML,
    }


async def _nothing(*args: object, **kwargs: object) -> None:
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--child", nargs=2, metavar=("DIR", "FORMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(generate(Path(args.child[0]), args.child[1]))))
        return
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        began = time.perf_counter()
        seed(tmp, args.rows)
        print(f"seeded {args.rows:,} audit rows in {time.perf_counter() - began:.0f} s")
        for fmt in args.formats.split(","):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(tmp), fmt], check=True, capture_output=True, text=True
            )
            print(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
