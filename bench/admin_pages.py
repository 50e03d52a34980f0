"""Server time of every console page with a million rows in the messages, delivery and audit tables.

    python bench/admin_pages.py [--rows 1000000] [--runs 20] [--only sqlite|postgres]
                                [--dashboard-only] [--no-rollup] [--explain]

Per database: the tables are seeded in bulk (PostgreSQL: ``INSERT … SELECT generate_series``;
SQLite: a recursive CTE), ``rows`` messages each with one delivery and its one attempt (a tenth
dead, a tenth retrying, the rest delivered, over three destinations and the month up to now) and
``rows`` audit entries; then the dashboard's hourly rollup is brought up to date (the
``dashboard_rollup`` job's work, run until nothing is left; ``--no-rollup``: not, so the
dashboard counts every hour live, as on a fresh install or with the job stopped); then each page
is requested ``runs`` times by a logged-in admin through an in-process app (no network) and
p50/p95 of the time to the whole response is printed. ``--explain`` prints how the messages pages'
queries are read (their plans' scans) and, on PostgreSQL, the server's execution time of each
query of the dashboard's figures (EXPLAIN ANALYZE).
A PostgreSQL database is created for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bench.harness import create_database, drop_database  # noqa: E402
from core.auth.users import create_user  # noqa: E402
from core.operations import rollup  # noqa: E402
from core.operations.summary import summary  # noqa: E402
from core.testing import gateway_client, make_settings  # noqa: E402

PASSWORD = "bench password 0123456789"
STEP_MS = 2500  # one row every 2.5 s: a million rows span about a month


def start_ms(rows: int) -> int:
    """The first row's time: the rows end now, so the dashboard's 24h and 7d windows are full."""
    return int(time.time() * 1000) - rows * STEP_MS


def day(ms: int) -> str:
    """The date of ``ms`` as the filter forms take it."""
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))


# 15,000 conversations, one per platform and participant (3 × 5,000): message ``g`` is in
# conversation ``g % 15000``, about 67 messages each.
CONVERSATIONS = 15000
_PG_CONVERSATION_ID = "(lpad(to_hex({start} + ({n})::bigint * 2500), 12, '0') || '7' || substr(md5('c' || ({n})), 1, 19))::uuid"

_PG_SEED = [
    f"""INSERT INTO conversations (id, platform, participant, status, opened_at, last_message_at, message_count, state)
       SELECT {_PG_CONVERSATION_ID.format(start="{start}", n="n")}, (ARRAY['whatsapp', 'telegram', 'sms'])[1 + n % 3],
              'p' || (n % 5000), 'open', to_timestamp(({{start}} + n::bigint * 2500) / 1000.0), now(),
              {{rows}} / {CONVERSATIONS}, '{{{{}}}}'
       FROM generate_series(0, {CONVERSATIONS - 1}) AS n""",
    # uuid7-like ids: the time in the first 48 bits, so id order is time order as uuid7's is.
    f"""INSERT INTO messages (id, platform, external_id, direction, kind, sender, recipient, text, media,
           timestamp, extra, received_at, conversation_id)
       SELECT (lpad(to_hex({{start}} + g::bigint * 2500), 12, '0') || '7' || substr(md5(g::text), 1, 19))::uuid,
              (ARRAY['whatsapp', 'telegram', 'sms'])[1 + g % 3], 'ext-' || g,
              CASE WHEN g % 4 = 0 THEN 'out' ELSE 'in' END, CASE WHEN g % 20 = 0 THEN 'image' ELSE 'text' END,
              CASE WHEN g % 4 <> 0 THEN 'p' || (g % 5000) END, CASE WHEN g % 4 = 0 THEN 'p' || ((g + 1) % 5000) END,
              'message ' || g, '[]', to_timestamp(({{start}} + g::bigint * 2500) / 1000.0), '{{{{}}}}',
              to_timestamp(({{start}} + g::bigint * 2500) / 1000.0),
              {_PG_CONVERSATION_ID.format(start="{start}", n=f"g % {CONVERSATIONS}")}
       FROM generate_series(1, {{rows}}) AS g""",
    """INSERT INTO deliveries (id, message_id, destination, platform, status, attempt_count, max_attempts,
           last_error, options, idempotency_key, created_at, updated_at, next_attempt_at)
       SELECT (lpad(to_hex({start} + g::bigint * 2500), 12, '0') || '7' || substr(md5('d' || g), 1, 19))::uuid,
              (lpad(to_hex({start} + g::bigint * 2500), 12, '0') || '7' || substr(md5(g::text), 1, 19))::uuid,
              (ARRAY['crm', 'dhis2:national', 'sheet'])[1 + g % 3], (ARRAY['whatsapp', 'telegram', 'sms'])[1 + g % 3],
              CASE WHEN g % 10 = 0 THEN 'dead' WHEN g % 10 = 1 THEN 'retrying' ELSE 'delivered' END,
              1, 5, CASE WHEN g % 10 IN (0, 1) THEN 'HTTP 503 from the destination' END, '{{}}', md5('k' || g),
              to_timestamp(({start} + g::bigint * 2500) / 1000.0), to_timestamp(({start} + g::bigint * 2500) / 1000.0),
              CASE WHEN g % 10 = 1 THEN now() + interval '1 year' END
       FROM generate_series(1, {rows}) AS g""",
    """INSERT INTO delivery_attempts (delivery_id, number, started_at, duration_ms, outcome, status_code)
       SELECT (lpad(to_hex({start} + g::bigint * 2500), 12, '0') || '7' || substr(md5('d' || g), 1, 19))::uuid, 1,
              to_timestamp(({start} + g::bigint * 2500 + 200) / 1000.0), 180.0,
              CASE WHEN g % 10 = 0 THEN 'dead' WHEN g % 10 = 1 THEN 'retry' ELSE 'delivered' END,
              CASE WHEN g % 10 IN (0, 1) THEN 503 ELSE 200 END
       FROM generate_series(1, {rows}) AS g""",
    """INSERT INTO audit_log (at, kind, action, actor, actor_type, method, path, status, duration_ms, client)
       SELECT to_timestamp(({start} + g::bigint * 2500) / 1000.0), (ARRAY['request', 'webhook', 'delivery'])[1 + g % 3],
              NULL, 'user-' || (g % 50), 'user', 'GET', '/api/deliveries/' || (g % 1000),
              (ARRAY[200, 200, 200, 201, 401, 404, 500])[1 + g % 7], 3.5, '10.0.0.' || (g % 250)
       FROM generate_series(1, {rows}) AS g""",
]

_SQLITE_TIME = "strftime('%Y-%m-%d %H:%M:%f000', ({start} + g * 2500) / 1000.0, 'unixepoch')"
_SQLITE_ID = "printf('%012x', {start} + g * 2500) || '7' || substr(printf('%019d', g * 7919), 1, 19)"
_SQLITE_CONVERSATION_ID = "printf('%012x', {{start}} + ({n}) * 2500) || '9' || substr(printf('%019d', ({n}) * 7919), 1, 19)"
_SQLITE_SEED = [
    f"""WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < {CONVERSATIONS - 1})
       INSERT INTO conversations (id, platform, participant, status, opened_at, last_message_at, message_count, state)
       SELECT {_SQLITE_CONVERSATION_ID.format(n="n")},
              CASE n % 3 WHEN 0 THEN 'whatsapp' WHEN 1 THEN 'telegram' ELSE 'sms' END, 'p' || (n % 5000), 'open',
              strftime('%Y-%m-%d %H:%M:%f000', ({{start}} + n * 2500) / 1000.0, 'unixepoch'),
              strftime('%Y-%m-%d %H:%M:%f000', 'now'), {{rows}} / {CONVERSATIONS}, '{{{{}}}}'
       FROM s""",
    f"""WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {{rows}})
       INSERT INTO messages (id, platform, external_id, direction, kind, sender, recipient, text, media,
           timestamp, extra, received_at, conversation_id)
       SELECT {_SQLITE_ID}, CASE g % 3 WHEN 0 THEN 'whatsapp' WHEN 1 THEN 'telegram' ELSE 'sms' END,
              'ext-' || g, CASE WHEN g % 4 = 0 THEN 'out' ELSE 'in' END,
              CASE WHEN g % 20 = 0 THEN 'image' ELSE 'text' END, CASE WHEN g % 4 <> 0 THEN 'p' || (g % 5000) END,
              CASE WHEN g % 4 = 0 THEN 'p' || ((g + 1) % 5000) END, 'message ' || g, '[]', {_SQLITE_TIME}, '{{{{}}}}',
              {_SQLITE_TIME}, {_SQLITE_CONVERSATION_ID.format(n=f"g % {CONVERSATIONS}")}
       FROM s""",
    f"""WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {{rows}})
       INSERT INTO deliveries (id, message_id, destination, platform, status, attempt_count, max_attempts,
           last_error, options, idempotency_key, created_at, updated_at, next_attempt_at)
       SELECT printf('%012x', {{start}} + g * 2500) || '8' || substr(printf('%019d', g * 7919), 1, 19), {_SQLITE_ID},
              CASE g % 3 WHEN 0 THEN 'crm' WHEN 1 THEN 'dhis2:national' ELSE 'sheet' END,
              CASE g % 3 WHEN 0 THEN 'whatsapp' WHEN 1 THEN 'telegram' ELSE 'sms' END,
              CASE g % 10 WHEN 0 THEN 'dead' WHEN 1 THEN 'retrying' ELSE 'delivered' END, 1, 5,
              CASE WHEN g % 10 IN (0, 1) THEN 'HTTP 503 from the destination' END, '{{{{}}}}', 'k' || g,
              {_SQLITE_TIME}, {_SQLITE_TIME}, CASE WHEN g % 10 = 1 THEN '2099-01-01 00:00:00.000000' END
       FROM s""",
    """WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {rows})
       INSERT INTO delivery_attempts (delivery_id, number, started_at, duration_ms, outcome, status_code)
       SELECT printf('%012x', {start} + g * 2500) || '8' || substr(printf('%019d', g * 7919), 1, 19), 1,
              strftime('%Y-%m-%d %H:%M:%f000', ({start} + g * 2500 + 200) / 1000.0, 'unixepoch'), 180.0,
              CASE g % 10 WHEN 0 THEN 'dead' WHEN 1 THEN 'retry' ELSE 'delivered' END,
              CASE WHEN g % 10 IN (0, 1) THEN 503 ELSE 200 END
       FROM s""",
    f"""WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {{rows}})
       INSERT INTO audit_log (at, kind, action, actor, actor_type, method, path, status, duration_ms, client)
       SELECT {_SQLITE_TIME}, CASE g % 3 WHEN 0 THEN 'request' WHEN 1 THEN 'webhook' ELSE 'delivery' END, NULL,
              'user-' || (g % 50), 'user', 'GET', '/api/deliveries/' || (g % 1000),
              CASE g % 7 WHEN 4 THEN 401 WHEN 5 THEN 404 WHEN 6 THEN 500 ELSE 200 END, 3.5, '10.0.0.' || (g % 250)
       FROM s""",
]


async def seed(client: Any, rows: int, start: int) -> float:
    started = time.perf_counter()
    statements = _PG_SEED if client.gateway.db.engine.dialect.name == "postgresql" else _SQLITE_SEED
    async with client.gateway.db.transaction() as conn:
        for statement in statements:
            await conn.execute(sa.text(statement.format(rows=rows, start=start)))
        await conn.execute(sa.text("ANALYZE"))
    if client.gateway.db.engine.dialect.name == "postgresql":
        # What autovacuum does soon after a bulk load: sets the visibility map, so that counts over
        # a covering index are index-only scans rather than a visit of every row of the window.
        async with client.gateway.db.engine.connect() as conn:
            await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(sa.text("VACUUM ANALYZE"))
    return time.perf_counter() - started


async def one_id(client: Any, sql: str) -> str:
    async with client.gateway.db.transaction() as conn:
        value = (await conn.execute(sa.text(sql))).scalar_one()
    text = str(value).replace("-", "")
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}" if len(text) == 32 else text


async def log_in(client: Any) -> None:
    page = await client.get("/admin/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = await client.post("/admin/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    if r.status_code != 303:
        raise SystemExit(f"login failed: {r.status_code} {r.text[:300]}")


async def roll_up_all(client: Any) -> tuple[int, float]:
    """What the ``dashboard_rollup`` job does over its runs: every closed hour rolled up."""
    started = time.perf_counter()
    hours = 0
    while done := await rollup.roll_up(client.gateway.db):
        hours += done
    return hours, time.perf_counter() - started


async def explain(client: Any) -> None:
    """The server's execution time of each query of the dashboard's figures (EXPLAIN ANALYZE)."""
    engine = client.gateway.db.engine
    for window in ("24h", "7d"):
        captured: list[tuple[str, Any]] = []

        def grab(
            conn: Any,
            cursor: Any,
            statement: str,
            parameters: Any,
            context: Any,
            many: bool,
            into: list[Any] = captured,
        ) -> None:
            into.append((statement, parameters))

        sa.event.listen(engine.sync_engine, "before_cursor_execute", grab)
        try:
            await summary(client.gateway.db, window)
        finally:
            sa.event.remove(engine.sync_engine, "before_cursor_execute", grab)
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            total = 0.0
            for statement, parameters in captured:
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                plan = await raw.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", *parameters)
                plan = json.loads(plan) if isinstance(plan, str) else plan
                ms = float(plan[0]["Execution Time"])
                total += ms
                node = plan[0]["Plan"]
                while node.get("Plans") and node["Node Type"] in ("Aggregate", "Limit", "Sort", "Result"):
                    node = node["Plans"][0]
                what = " ".join(statement.split())[:90]
                print(f"  {window:3} {ms:7.2f} ms  {node['Node Type']:22} {node.get('Index Name', '')[:40]:40} {what}")
            print(f"  {window:3} {total:7.2f} ms  in all ({len(captured)} statements)", flush=True)


async def run_on(
    label: str,
    database_url: str,
    rows: int,
    runs: int,
    *,
    use_rollup: bool = True,
    dashboard_only: bool = False,
    show_plans: bool = False,
) -> list[tuple[str, float, float]]:
    # No dashboard cache: every request computes the figures (what a cache miss costs).
    # Every installed plugin, as in production: their console pages are measured too.
    settings = make_settings(
        tempfile.mkdtemp(),
        database_url=database_url,
        installed="all",
        plugins={"admin": {"dashboard_cache_seconds": 0}},
        # One admin asks for ~40 pages × runs in a few minutes: past a person's rate limit.
        auth={"api_rate_per_minute": 1_000_000},
    )
    async with gateway_client(settings) as client:
        await create_user(client.gateway, "admin", PASSWORD, "admin")
        start = start_ms(rows)
        span = rows * STEP_MS
        seconds = await seed(client, rows, start)
        print(
            f"{label}: seeded {rows:,} messages, deliveries, attempts and audit entries in {seconds:.1f} s", flush=True
        )
        if use_rollup:
            hours, seconds = await roll_up_all(client)
            print(f"{label}: rolled up {hours} closed hours in {seconds:.1f} s", flush=True)
        if show_plans and client.gateway.db.engine.dialect.name == "postgresql":
            await explain(client)
        delivery = await one_id(
            client, "SELECT id FROM deliveries WHERE status = 'dead' ORDER BY id LIMIT 1 OFFSET 500"
        )
        entry = await one_id(client, "SELECT max(id) - 1000 FROM audit_log")
        message = await one_id(client, "SELECT message_id FROM deliveries WHERE status = 'dead' ORDER BY id LIMIT 1")
        conversation = await one_id(client, "SELECT id FROM conversations WHERE participant = 'p4001' ORDER BY id LIMIT 1")
        await log_in(client)
        pages = {
            "dashboard": "/admin/",
            "dashboard ?window=7d": "/admin/?window=7d",
            "deliveries": "/admin/deliveries",
            "deliveries ?status=dead": "/admin/deliveries?status=dead",
            "deliveries ?status&destination&dates": (
                "/admin/deliveries?status=dead&status=retrying&destination=crm"
                f"&since={day(start + span * 2 // 30)}&until={day(start + span * 19 // 30)}"
            ),
            "delivery": f"/admin/deliveries/{delivery}",
            "logs": "/admin/logs",
            "logs ?status=500&since": f"/admin/logs?status=500&since={day(start + span * 9 // 30)}",
            "log entry": f"/admin/logs/{entry}",
            "messages": "/admin/messages",
            "messages ?platform": "/admin/messages?platform=sms",
            "messages ?participant": "/admin/messages?participant=p4001",
            "messages ?participant&direction=out": "/admin/messages?participant=p4001&direction=out",
            "messages ?direction=out": "/admin/messages?direction=out",
            "messages ?kind=image&direction=out": "/admin/messages?kind=image&direction=out",
            "messages ?platform&kind&dates": (
                f"/admin/messages?platform=telegram&kind=image&since={day(start + span * 2 // 30)}"
                f"&until={day(start + span * 19 // 30)}"
            ),
            # Nothing matches (every image is outbound): the worst case, the whole kind index is read.
            "messages ?kind=image&direction=in": "/admin/messages?kind=image&direction=in",
            "messages ?until (a month back)": f"/admin/messages?until={day(start + span * 3 // 30)}",
            "message": f"/admin/messages/{message}",
            "deliveries ?message": f"/admin/deliveries?message={message}",
            "conversations": "/admin/conversations",
            "conversation (67 messages)": f"/admin/conversations/{conversation}",
            "search ?q=message id": f"/admin/search?q={message}&list=1",
            "search ?q=external id": "/admin/search?q=ext-500000&list=1",
            "search ?q=participant prefix": "/admin/search?q=p4001&list=1",
            "destinations and jobs": "/admin/destinations",
            "plugins": "/admin/plugins",
            "users": "/admin/users",
            "API keys": "/admin/keys",
            "roles": "/admin/roles",
            "privacy": "/admin/privacy",
            "password": "/admin/password",
            # The plugins' pages (their own tables, empty here: what they cost beside a million rows).
            "ceemis cases": "/admin/ceemis/cases/",
            "devices": "/admin/devices/",
            "device alerts": "/admin/devices/alerts",
            "dhis2 mappings": "/admin/dhis2/mappings/",
            "reports": "/admin/reports/",
            "webform organisations": "/admin/webform/organisations/",
        }
        if show_plans:
            await explain_pages(client, label, {k: v for k, v in pages.items() if k.startswith("messages")})
        if dashboard_only:
            pages = {k: v for k, v in pages.items() if k.startswith("dashboard")}
        results = []
        for name, path in pages.items():
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                r = await client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                if r.status_code != 200:
                    raise SystemExit(f"{label} {path}: {r.status_code} {r.text[:300]}")
            times.sort()
            p50 = statistics.median(times)
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            results.append((name, p50, p95))
            print(f"{label:10} {name:40} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms", flush=True)
    return results


async def explain_pages(client: Any, label: str, pages: dict[str, str]) -> None:
    """Each page's queries on the messages table, and how the database reads them (the plan's scans)."""
    engine = client.gateway.db.engine
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM messages" in statement and not statement.startswith("EXPLAIN"):
            seen.append((statement, parameters))

    sa.event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        for name, path in pages.items():
            seen.clear()
            await client.get(path)
            statements = list(seen)
            for statement, parameters in statements:
                prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
                async with engine.connect() as conn:
                    plan = (await conn.exec_driver_sql(prefix + statement, parameters)).all()
                lines = [str(row[-1]) for row in plan]
                scans = [line.strip() for line in lines if "Scan" in line or "SCAN" in line or "SEARCH" in line]
                print(f"{label:10} {name:40} plan: {' | '.join(scans)}", flush=True)
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", capture)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--dashboard-only", action="store_true", help="request the dashboard pages only")
    parser.add_argument("--no-rollup", action="store_true", help="leave the hourly rollup empty (all counted live)")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print the plans of the messages pages' queries and EXPLAIN ANALYZE the dashboard's (PostgreSQL)",
    )
    args = parser.parse_args()
    options = {"use_rollup": not args.no_rollup, "dashboard_only": args.dashboard_only, "show_plans": args.explain}
    if args.only != "postgres":
        # The SQLite file (over a gigabyte at a million rows) goes with its folder after the run.
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bench.db"
            await run_on("sqlite", f"sqlite+aiosqlite:///{path}", args.rows, args.runs, **options)
    if args.only != "sqlite":
        name, url = await create_database()
        try:
            await run_on("postgres", url, args.rows, args.runs, **options)
        finally:
            await drop_database(name)


if __name__ == "__main__":
    asyncio.run(main())
