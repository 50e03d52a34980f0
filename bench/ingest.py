"""Ingest and delivery benchmark: one `switchboard serve` process on PostgreSQL + arq, beside a bare
Starlette endpoint in the same run.

    python bench/ingest.py [--duration 10] [--drain 20000]
    python bench/ingest.py --privacy [--rounds 3] [--duration 10] [--drain 20000]

``--privacy``: the same ingest and drain with personal data encrypted at rest (``[privacy] key``)
against in clear, in one run: two gateways on two databases, measured in turns (docs/privacy.md).

Prints: maximum ingest throughput of authenticated webhooks and its ratio to the bare endpoint,
latency at a paced 1,000 req/s, the API process's memory across sustained load, and how fast one
worker drains deliveries to a local receiver, beside a bare aiohttp client loop posting the same
bodies to the same receiver with 16 in flight, and that ratio. Needs wrk, PostgreSQL and Redis on
loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import (
    REDIS_URL,
    Process,
    create_database,
    drop_database,
    free_port,
    proc_cpu,
    uvicorn,
    wait_http,
    wrk,
)

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "wrk_webhook.lua"


def write_config(path: Path, database_url: str, queue: str, receiver: str, privacy_key: str | None = None) -> None:
    privacy = f'[privacy]\nkey = "{privacy_key}"\n' if privacy_key else ""
    path.write_text(
        privacy
        + f"""
[server]
data_dir = "{path.parent / "data"}"
log_level = "warning"
[database]
url = "{database_url}"
pool_size = 20
[queue]
backend = "arq"
redis_url = "{REDIS_URL}"
name = "{queue}"
local_workers = 64
[auth]
secret_key = "bench-secret-key-0123456789-abcdefghijklmnop"
[[routes]]
source = "bench"
destinations = ["sink"]
[plugins.http.destinations.sink]
url = "{receiver}"
concurrency = 64
"""
    )


async def clear_queue(queue: str) -> None:
    """Delete a queue's waiting jobs (arq keeps each under ``arq:job:<id>``) and its own keys."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        job_ids = await client.zrange(f"{queue}:queue", 0, -1)
        for i in range(0, len(job_ids), 1000):
            await client.delete(*[b"arq:job:" + j for j in job_ids[i : i + 1000]])
        keys = [k async for k in client.scan_iter(f"{queue}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def postgres_cpu_seconds() -> float:
    """CPU time used so far by every process named ``postgres`` (the server's backends)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, seconds = proc_cpu(stat.read_text())
        except OSError:
            continue
        if name == "postgres":
            total += seconds
    return total


def machine_cpu() -> dict[str, int]:
    """The machine's CPU time so far, in clock ticks: idle (with I/O wait), stolen, and the rest."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return {"busy": user + nice + system + irq + softirq, "idle": idle + iowait, "steal": steal}


async def count(engine: AsyncEngine, sql: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.text(sql))).scalar_one())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--drain", type=int, default=20000, help="deliveries to drain with one worker (0: skip)")
    parser.add_argument("--paced-runs", type=int, default=3, help="runs at a fixed 1,000 req/s (the tail varies)")
    parser.add_argument(
        "--pairs",
        type=int,
        default=1,
        help="maximum-rate runs of the bare endpoint and the gateway, side by side, whose ratios' median is "
        "the ingest ratio (the machine's speed drifts between runs; more pairs, less drift)",
    )
    parser.add_argument(
        "--drain-only", action="store_true", help="skip the HTTP runs: store --drain messages in process, then drain"
    )
    parser.add_argument("--profile-worker", type=Path, help="run the drain's worker under cProfile, writing here")
    parser.add_argument(
        "--spy-worker",
        type=Path,
        help="sample the drain's worker with py-spy (pip install py-spy), collapsed stacks written here",
    )
    parser.add_argument(
        "--spy-server",
        type=Path,
        help="sample the serving process with py-spy during its maximum-rate run, collapsed stacks written here",
    )
    parser.add_argument("--privacy", action="store_true", help="compare encryption at rest on against off")
    parser.add_argument("--rounds", type=int, default=3, help="--privacy: measured turns of each gateway")
    args = parser.parse_args()
    if args.privacy:
        await compare_privacy(args)
        return

    from core.config.settings import load_settings
    from core.storage import migrate
    from core.storage.db import make_engine

    work = Path("/tmp") / f"switchboard-bench-{uuid.uuid4().hex[:6]}"
    work.mkdir(parents=True)
    db_name, db_url = await create_database()
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    ports = {name: free_port() for name in ("bare", "receiver", "gateway")}
    config = work / "config.toml"
    receiver = f"http://127.0.0.1:{ports['receiver']}/inbox"
    write_config(config, db_url, queue, receiver)
    settings = load_settings(config)
    await asyncio.to_thread(migrate.upgrade, settings)
    engine = make_engine(settings.database)
    procs: list[Process] = []
    try:
        procs.append(uvicorn("bench.apps:bare", ports["bare"], log=work / "bare.log"))
        procs.append(uvicorn("bench.apps:receiver", ports["receiver"], log=work / "receiver.log"))
        gateway = uvicorn(
            "bench.apps:gateway",
            ports["gateway"],
            factory=True,
            env={"SWITCHBOARD_CONFIG": str(config)},
            log=work / "gateway.log",
        )
        procs.append(gateway)
        for name in ports:
            await wait_http(f"http://127.0.0.1:{ports[name]}/healthz")
        if args.drain_only:
            await fill(settings, args.drain)
            await drain_beside_bare_loop(
                settings, engine, work, args.drain, receiver, args.profile_worker, args.spy_worker
            )
            return
        bare_url = f"http://127.0.0.1:{ports['bare']}"
        gw_url = f"http://127.0.0.1:{ports['gateway']}"

        print(f"warming up ({args.duration // 2} s each)…", flush=True)
        wrk(bare_url, duration=max(2, args.duration // 2), connections=args.connections, script=SCRIPT, run_id="wb")
        wrk(gw_url, duration=max(2, args.duration // 2), connections=args.connections, script=SCRIPT, run_id="wg")
        rss_start = gateway.rss_mb()
        # What autovacuum does on a production server (this machine's PostgreSQL runs with
        # autovacuum off): statistics for the tables the warm-up filled from empty.
        async with engine.begin() as conn:
            await conn.execute(sa.text("ANALYZE"))

        bare = procs[0]
        cpu0 = bare.cpu_seconds()
        bare_max = wrk(bare_url, duration=args.duration, connections=args.connections, script=SCRIPT, run_id="b1")
        bare_cpu_us = (bare.cpu_seconds() - cpu0) * 1e6 / max(bare_max.requests, 1)
        sampler = None
        if args.spy_server:  # py-spy's own cost shows in this run's figures: a profile, not a measurement
            sampler = subprocess.Popen(  # noqa: ASYNC220 - started once, waited for after wrk
                ["py-spy", "record", "--pid", str(gateway.popen.pid), "--rate", "200", "--format", "raw",
                 "--duration", str(args.duration), "--output", str(args.spy_server)],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
        cpu0, pg0 = gateway.cpu_seconds(), postgres_cpu_seconds()
        gw_max = wrk(gw_url, duration=args.duration, connections=args.connections, script=SCRIPT, run_id="g1")
        if sampler is not None:
            sampler.wait()
        gw_cpu_us = (gateway.cpu_seconds() - cpu0) * 1e6 / max(gw_max.requests, 1)
        pg_cpu_us = (postgres_cpu_seconds() - pg0) * 1e6 / max(gw_max.requests, 1)
        rss_mid = gateway.rss_mb()
        # A fixed 1,000 req/s offered by 50 connections (the script spaces the sends).
        bare_paced = wrk(bare_url, duration=args.duration, connections=50, rate=1000, script=SCRIPT, run_id="b2")
        machine0 = machine_cpu()
        paced = [
            wrk(gw_url, duration=args.duration, connections=50, rate=1000, script=SCRIPT, run_id=f"g2{i}")
            for i in range(max(1, args.paced_runs))
        ]
        machine = {k: v - machine0[k] for k, v in machine_cpu().items()}
        gw_paced = sorted(paced, key=lambda r: r.p99_ms)[len(paced) // 2]  # the median run by p99
        gw_again = wrk(gw_url, duration=args.duration, connections=args.connections, script=SCRIPT, run_id="g3")
        rss_end = gateway.rss_mb()
        # Further pairs, in alternating order so that a drift of the machine's speed during the
        # run falls on both sides alike.
        pairs = [(bare_max, gw_max)]
        for i in range(1, max(1, args.pairs)):
            order = [("b", bare_url), ("g", gw_url)][:: -1 if i % 2 else 1]
            runs = {
                side: wrk(
                    url, duration=args.duration, connections=args.connections, script=SCRIPT, run_id=f"p{i}{side}"
                )
                for side, url in order
            }
            pairs.append((runs["b"], runs["g"]))

        sent_ok = sum(r.requests - r.errors for r in (*(g for _, g in pairs), *paced, gw_again))
        await asyncio.sleep(1)
        stored = await count(engine, "SELECT count(*) FROM messages WHERE external_id NOT LIKE 'wg-%'")
        print()
        print(f"{'':38} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for label, r in (
            ("bare Starlette, max", bare_max),
            ("gateway ingest, max", gw_max),
            ("gateway ingest, max (again, later)", gw_again),
            ("bare Starlette, paced 1,000 req/s", bare_paced),
            *((f"gateway ingest, paced 1,000 req/s ({i + 1})", r) for i, r in enumerate(paced)),
        ):
            print(f"{label:38} {r.rps:9.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.errors:7d}")
        ratios = sorted(g.rps / b.rps for b, g in pairs)
        ingest_ratio = ratios[len(ratios) // 2]
        if len(pairs) > 1:
            print(
                "ingest / bare, each pair (bare req/s, gateway req/s, ratio): "
                + "; ".join(f"{b.rps:.0f}, {g.rps:.0f}, {g.rps / b.rps:.2f}" for b, g in pairs)
            )
        print(
            f"ingest / bare ratio (max): {ingest_ratio:.2f}"
            + (f", the median of {len(pairs)} pairs" if len(pairs) > 1 else "")
        )
        total = sum(machine.values()) or 1
        print(
            f"p99 at 1,000 req/s: median {gw_paced.p99_ms:.1f} ms of {len(paced)} runs "
            f"({', '.join(f'{r.p99_ms:.1f}' for r in paced)}); both cores meanwhile "
            f"{100 * (1 - machine['idle'] / total):.0f} % busy, {100 * machine['steal'] / total:.1f} % stolen by the host"
        )
        print(
            f"CPU per request in the serving process: bare {bare_cpu_us:.0f} us, gateway ingest {gw_cpu_us:.0f} us "
            f"(one core's worth: {1e6 / bare_cpu_us:.0f} vs {1e6 / gw_cpu_us:.0f} req/s); "
            f"PostgreSQL {pg_cpu_us:.0f} us per ingested webhook"
        )
        print(f"webhooks acknowledged in measured runs: {sent_ok}; messages stored: {stored}")
        print(f"API process RSS: {rss_start:.0f} MB after warm-up, {rss_mid:.0f} MB mid-run, {rss_end:.0f} MB at end")

        if args.drain:
            drain_ratio = await drain_beside_bare_loop(
                settings, engine, work, args.drain, receiver, args.profile_worker, args.spy_worker
            )
            print(f"ratios: ingest ÷ bare Starlette {ingest_ratio:.2f}; drain ÷ bare client loop {drain_ratio:.2f}")
    finally:
        for p in procs:
            p.stop()
        await engine.dispose()
        await drop_database(db_name)
        await clear_queue(queue)


async def compare_privacy(args: argparse.Namespace) -> None:
    """Ingest (wrk, maximum rate) and drain with ``[privacy] key`` set against unset, in turns."""
    from core.config.settings import load_settings
    from core.privacy.keys import generate_key
    from core.storage import migrate
    from core.storage.db import make_engine

    work = Path("/tmp") / f"switchboard-bench-{uuid.uuid4().hex[:6]}"
    work.mkdir(parents=True)
    receiver_port = free_port()
    sides: dict[str, dict[str, Any]] = {}
    procs: list[Process] = []
    try:
        procs.append(uvicorn("bench.apps:receiver", receiver_port, log=work / "receiver.log"))
        for name, key in (("clear", None), ("encrypted", generate_key())):
            folder = work / name
            folder.mkdir(parents=True)
            db_name, db_url = await create_database()
            queue = f"bench-{uuid.uuid4().hex[:6]}"
            config = folder / "config.toml"
            write_config(config, db_url, queue, f"http://127.0.0.1:{receiver_port}/inbox", key)
            settings = load_settings(config)
            await asyncio.to_thread(migrate.upgrade, settings)
            port = free_port()
            gateway = uvicorn(
                "bench.apps:gateway", port, factory=True, env={"SWITCHBOARD_CONFIG": str(config)}, log=folder / "gw.log"
            )
            procs.append(gateway)
            sides[name] = {"db": db_name, "queue": queue, "settings": settings, "folder": folder, "port": port}
            sides[name]["process"] = gateway
        await wait_http(f"http://127.0.0.1:{receiver_port}/healthz", timeout=180)
        for side in sides.values():
            await wait_http(f"http://127.0.0.1:{side['port']}/healthz", timeout=180)
            side["engine"] = make_engine(side["settings"].database)
            url = f"http://127.0.0.1:{side['port']}"
            wrk(url, duration=max(2, args.duration // 2), connections=args.connections, script=SCRIPT, run_id="w")
            async with side["engine"].begin() as conn:
                await conn.execute(sa.text("ANALYZE"))
        rates: dict[str, list[float]] = {name: [] for name in sides}
        cpus: dict[str, list[float]] = {name: [] for name in sides}
        for turn in range(max(1, args.rounds)):
            # Alternate which goes first: neither always meets the other's leftovers (vacuum, caches).
            for name in sorted(sides, reverse=bool(turn % 2)):
                url = f"http://127.0.0.1:{sides[name]['port']}"
                server = sides[name]["process"]
                cpu0 = server.cpu_seconds()
                result = wrk(
                    url, duration=args.duration, connections=args.connections, script=SCRIPT, run_id=f"p{turn}"
                )
                cpu_us = (server.cpu_seconds() - cpu0) * 1e6 / max(result.requests, 1)
                rates[name].append(result.rps)
                cpus[name].append(cpu_us)
                print(
                    f"turn {turn + 1}: {name:9} {result.rps:7.0f} req/s (errors {result.errors}), "
                    f"{cpu_us:.0f} us of the serving process's CPU per request",
                    flush=True,
                )
        seal_cost()
        median = {name: sorted(r)[len(r) // 2] for name, r in rates.items()}
        print()
        print(
            f"ingest, max req/s (median of {args.rounds}): clear {median['clear']:.0f}, encrypted {median['encrypted']:.0f}"
        )
        print(f"ingest throughput cost of encryption: {100 * (1 - median['encrypted'] / median['clear']):.1f} %")
        cpu = {name: sorted(c)[len(c) // 2] for name, c in cpus.items()}
        print(
            f"serving process CPU per request (median): clear {cpu['clear']:.0f} us, encrypted {cpu['encrypted']:.0f} us "
            f"(+{100 * (cpu['encrypted'] / cpu['clear'] - 1):.1f} %)"
        )
        if args.drain:
            drained: dict[str, float] = {}
            for name, side in sides.items():
                async with side["engine"].begin() as conn:
                    await conn.execute(
                        sa.text("TRUNCATE messages, deliveries, delivery_attempts, conversations CASCADE")
                    )
                await fill(side["settings"], args.drain)
                drained[name] = await drain(side["settings"], side["engine"], side["folder"], args.drain)
            print(
                f"drain deliveries/s: clear {drained['clear']:.0f}, encrypted {drained['encrypted']:.0f}; "
                f"cost {100 * (1 - drained['encrypted'] / drained['clear']):.1f} %"
            )
    finally:
        for p in procs:
            p.stop()
        for side in sides.values():
            if "engine" in side:
                await side["engine"].dispose()
            await drop_database(side["db"])
            await clear_queue(side["queue"])


def seal_cost(n: int = 20000) -> None:
    """CPU per message of sealing what ingest stores of it (its row, its conversation's participant,
    its audit row), in this process: the part of the cost the comparison above cannot isolate on a
    busy machine."""
    from datetime import UTC, datetime

    from sqlalchemy.dialects import postgresql

    from core.privacy.columns import seal_row, set_keyring
    from core.privacy.keys import Keyring, generate_key
    from core.storage.models import audit_log, conversations, messages

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    set_keyring(dialect, Keyring(generate_key()))
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = [
        {
            "platform": "bench", "external_id": f"m-{i}", "direction": "in", "kind": "text",
            "sender": f"+2557{i:08d}", "sender_name": None, "recipient": None, "text": "Hello, I need help with my account",
            "media": [], "timestamp": now, "raw": {"from": f"+2557{i:08d}", "text": {"body": "Hello"}},
            "extra": {}, "received_at": now, "participant": f"+2557{i:08d}",
        }
        for i in range(n)
    ]  # fmt: skip
    audit = {"at": now, "kind": "webhook", "detail": {"platform": "bench", "messages": 1}}
    participant = conversations.c.participant
    started = time.process_time()
    for row in rows:
        seal_row(messages, row, dialect, participant=participant)
        seal_row(audit_log, audit, dialect)
    per = (time.process_time() - started) * 1e6 / n
    print(f"sealing, in process: {per:.1f} us of CPU per ingested message (its row, participant and audit row)")


async def fill(settings: object, n: int) -> None:
    """Store ``n`` messages (and their deliveries) through the gateway's ingest, in process."""
    from bench.apps import BenchPlugin
    from core import StandardMessage
    from core.gateway import Gateway

    gateway = Gateway(settings, [("bench", BenchPlugin())])  # type: ignore[arg-type]
    await gateway.start(run_queue=False)
    try:
        started = time.monotonic()
        for i in range(0, n, 500):
            batch = [
                StandardMessage(
                    platform="bench", external_id=f"fill-{j}", kind="text", sender=f"+2557{j % 5000:08d}", text="x"
                )
                for j in range(i, min(n, i + 500))
            ]
            await gateway.ingest.submit(batch)
        print(f"stored {n} messages in process in {time.monotonic() - started:.1f} s", flush=True)
    finally:
        await gateway.close()


async def drain(
    settings: object, engine: AsyncEngine, work: Path, limit: int, profile: Path | None = None, spy: Path | None = None
) -> float:
    """Deliver ``limit`` stored deliveries with one worker; the steady rate (deliveries/s).

    ``profile``: run the worker under cProfile, writing its profile there. ``spy``: sample it
    with py-spy instead (far less overhead than cProfile), writing collapsed stacks there.
    """
    import sys

    total = await count(engine, "SELECT count(*) FROM deliveries")
    # Keep `limit` deliveries waiting; mark the rest cancelled so the drain measures a known number.
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "UPDATE deliveries SET status = 'cancelled' WHERE id NOT IN "
                "(SELECT id FROM deliveries ORDER BY id LIMIT :n)"
            ),
            {"n": limit},
        )
        # Due a minute ago: a worker's start-up sweep leaves deliveries due for less than
        # STARTUP_GRACE to the process that stored them (core.pipeline.sweeper.startup_sweep).
        await conn.execute(
            sa.text("UPDATE deliveries SET next_attempt_at = now() - interval '1 minute' WHERE status = 'queued'")
        )
    n = min(limit, total)
    # Empty the queue: the jobs the ingest runs enqueued also name the cancelled deliveries.
    # The worker's start-up sweep then enqueues exactly the deliveries measured.
    await clear_queue(settings.queue.name)  # type: ignore[attr-defined]
    profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []
    sampler = ["py-spy", "record", "--rate", "200", "--format", "raw", "--output", str(spy), "--"] if spy else []
    worker = Process(
        [*sampler, sys.executable, *profiler, "-m", "core.cli", "worker", "--config", str(work / "config.toml")],
        log=work / "worker.log",
    )
    started = time.monotonic()
    pg0, machine0 = postgres_cpu_seconds(), machine_cpu()
    first: tuple[float, int] | None = None  # when deliveries were first seen done, and how many
    try:
        done = 0
        while time.monotonic() - started < 600:
            done = await count(engine, "SELECT count(*) FROM deliveries WHERE status = 'delivered'")
            if done and first is None:
                first = (time.monotonic(), done)
            if done >= n:
                break
            await asyncio.sleep(0.1)
        elapsed = time.monotonic() - started
        cpu = worker.cpu_seconds()
        pg_cpu = postgres_cpu_seconds() - pg0
        machine = {k: v - machine0[k] for k, v in machine_cpu().items()}
    finally:
        if spy:  # py-spy writes its stacks on SIGINT, and stops the worker with it
            worker.popen.send_signal(signal.SIGINT)
            worker.popen.wait(timeout=60)
        worker.stop()
    print(
        f"drain: {done} of {n} deliveries delivered by one worker in {elapsed:.1f} s "
        f"= {done / elapsed:.0f} deliveries/s (includes worker start-up); "
        f"worker CPU {cpu * 1e6 / max(done, 1):.0f} us per delivery (start-up included)"
    )
    busy = machine["busy"] / max(sum(machine.values()), 1)
    print(
        f"drain: PostgreSQL CPU {pg_cpu * 1e6 / max(done, 1):.0f} us per delivery; "
        f"both cores meanwhile {busy:.0%} busy (the receiver, Redis and this script included)"
    )
    steady = done / elapsed
    if first is not None and done > first[1]:
        steady = (done - first[1]) / max(time.monotonic() - first[0], 1e-9)
        print(f"drain once the worker is up: {steady:.0f} deliveries/s")
    return steady


async def drain_beside_bare_loop(
    settings: object,
    engine: AsyncEngine,
    work: Path,
    limit: int,
    receiver: str,
    profile: Path | None = None,
    spy: Path | None = None,
) -> float:
    """Drain ``limit`` deliveries with one worker, then post the same bodies with a bare client
    loop; returns the ratio of the two rates (the worker's once it is up)."""
    steady = await drain(settings, engine, work, limit, profile, spy)
    bare = await bare_client_loop(engine, receiver, limit)
    print(f"bare client loop (aiohttp, 16 in flight, the same bodies and receiver): {bare:.0f} posts/s")
    print(f"drain ÷ bare client loop: {steady / bare:.2f}")
    return steady / bare


async def bare_client_loop(engine: AsyncEngine, receiver: str, n: int, in_flight: int = 16) -> float:
    """Posts/s of a plain aiohttp loop sending the drained deliveries' bodies and headers to the receiver.

    The bodies are rendered as the ``http`` destination renders them (the message as JSON), from
    the same rows, before the clock starts: what is left is the client's and the receiver's work.
    """
    import aiohttp

    from core.pipeline.delivery_store import message_from_row

    async with engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    sa.text(
                        "SELECT m.*, d.id AS delivery_id FROM deliveries d JOIN messages m ON m.id = d.message_id "
                        "WHERE d.status = 'delivered' ORDER BY d.id LIMIT :n"
                    ),
                    {"n": n},
                )
            )
            .mappings()
            .all()
        )
    posts = [
        (
            json.dumps(message_from_row(dict(row)).to_dict(), default=str, separators=(",", ":")).encode(),
            {
                "Content-Type": "application/json",
                "Idempotency-Key": row["delivery_id"].hex,
                "X-Switchboard-Delivery": str(row["delivery_id"]),
                "X-Switchboard-Attempt": "1",
            },
        )
        for row in rows
    ]
    queue = iter(posts)
    async with aiohttp.ClientSession() as session:

        async def sender() -> None:
            for body, headers in queue:
                async with session.post(receiver, data=body, headers=headers) as response:
                    await response.text()
                    response.raise_for_status()

        started = time.monotonic()
        await asyncio.gather(*(sender() for _ in range(in_flight)))
        elapsed = time.monotonic() - started
    return len(posts) / elapsed


if __name__ == "__main__":
    asyncio.run(main())
