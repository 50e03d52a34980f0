"""How long a 50,000-row dhis2gw mapping file takes to import, on SQLite and on PostgreSQL.

    python bench/dhis2_mapping_import.py [--rows 50000] [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Each import goes through ``POST /plugins/dhis2/mappings/import`` of an in-process app (the
multipart upload, parsing, validation, the diff against what is stored, the bulk upsert and
the commit). Printed per database: a CSV file into an empty table, the same file again (every
row unchanged), a dry run of a file changing every row, the XLSX file into an empty table.
A PostgreSQL database is created for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from core.testing import gateway_client, make_settings, user_headers  # noqa: E402
from plugins.dhis2.mappings.importer import parse_rows  # noqa: E402
from plugins.dhis2.mappings.tabular import read_table  # noqa: E402
from plugins.dhis2.models import data_value_mappings  # noqa: E402
from tests.fakes.dhis2_metadata import ANC_1ST, DATA_SET, FIXED  # noqa: E402
from tests.support.mapping_files import csv_bytes, upload, xlsx_bytes  # noqa: E402


def rows(count: int, name: str = "value") -> list[list[Any]]:
    return [
        [f"CODE{i:06d}", "de", f"{name} {i}", "", DATA_SET, ANC_1ST, FIXED, "", "", "national", "bench"]
        for i in range(count)
    ]


async def timed_import(client: Any, headers: dict[str, str], data: bytes, name: str, **params: str) -> float:
    started = time.perf_counter()
    response = await client.post(
        "/plugins/dhis2/mappings/import", params=params, files=upload(data, name), headers=headers
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"import failed: {response.status_code} {response.text[:500]}")
    return elapsed


async def run_on(label: str, database_url: str, files: dict[str, bytes], count: int) -> None:
    settings = make_settings(tempfile.mkdtemp(), database_url=database_url)
    async with gateway_client(settings) as client:
        headers = await user_headers(client.gateway, "operator")
        csv_new = await timed_import(client, headers, files["csv"], "m.csv")
        csv_same = await timed_import(client, headers, files["csv"], "m.csv")
        dry = await timed_import(client, headers, files["csv_changed"], "m.csv", dry_run="true")
        async with client.gateway.db.transaction() as conn:
            await conn.execute(sa.delete(data_value_mappings))
        xlsx_new = await timed_import(client, headers, files["xlsx"], "m.xlsx")
    print(
        f"{label:<11} {count:>7} rows   CSV new {csv_new:6.2f}s   CSV unchanged {csv_same:6.2f}s   "
        f"dry run (all changed) {dry:6.2f}s   XLSX new {xlsx_new:6.2f}s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin URL")
    args = parser.parse_args()
    data = rows(args.rows)
    files = {
        "csv": csv_bytes(data),
        "csv_changed": csv_bytes(rows(args.rows, "renamed")),
        "xlsx": xlsx_bytes(data),
    }
    print(f"files: CSV {len(files['csv']) / 1e6:.1f} MB, XLSX {len(files['xlsx']) / 1e6:.1f} MB")
    for kind in ("csv", "xlsx"):
        started = time.perf_counter()
        table = read_table(files[kind], max_rows=10**6)
        read = time.perf_counter() - started
        parse_rows(table, org_units=False)
        print(
            f"parse only  {kind.upper():<4} read {read:5.2f}s   validate {time.perf_counter() - started - read:5.2f}s"
        )

    with tempfile.TemporaryDirectory() as tmp:
        await run_on("SQLite", f"sqlite+aiosqlite:///{tmp}/bench.db", files, args.rows)

    name = f"bench_dhis2_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.pg)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        host = args.pg.split("://", 1)[1].rsplit("/", 1)[0]
        await run_on("PostgreSQL", f"postgresql+asyncpg://{host}/{name}", files, args.rows)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
