"""CPU per webhook in the serving process, every built-in plugin enabled against `http` alone.

    python -m bench.hot_path [--requests 2000] [--rounds 3] [--concurrency 16] [--profile all|http]

Builds two apps in this process on one PostgreSQL database (arq queue on Redis), one with every
installed plugin enabled (the console, metrics, the compatibility routes of dhis2, webform and
whatsapp, the breaker) and one with only `http` (and the bench adapter), and drives webhooks
through each app's ASGI interface directly, in alternating rounds. No HTTP server and no wrk: what
differs between the two is the gateway's own code, and CPU time (``time.process_time``, this
process only) is robust to a machine shared with other work, where wall-clock throughput is not.
``--profile`` runs cProfile over one round of that app instead and prints where its time went.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import pstats
import time
import uuid
from pathlib import Path
from typing import Any

from bench.apps import TOKEN, BenchPlugin
from bench.harness import REDIS_URL, create_database, drop_database
from bench.ingest import clear_queue

OTHER_PLUGINS = ("whatsapp", "dhis2", "ceemis", "devices", "webform", "email", "admin", "reports")


def write_config(path: Path, database_url: str, queue: str, *, everything: bool) -> None:
    if everything:
        plugins = """
[plugins.dhis2.compat]
enabled = true
[plugins.webform.cfcbe]
enabled = true
prefix = "/cfcbe"
[plugins.whatsapp.cfcbe]
enabled = true
prefix = "/cfcbe-wa"
[metrics]
enabled = true
[delivery.breaker]
failures = 5
"""
    else:
        plugins = "".join(f"[plugins.{name}]\nenabled = false\n" for name in OTHER_PLUGINS)
        plugins += "[metrics]\nenabled = false\n[delivery.breaker]\nfailures = 0\n"
    path.write_text(
        f"""
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
[auth]
secret_key = "bench-secret-key-0123456789-abcdefghijklmnop"
[[routes]]
source = "bench"
destinations = ["sink"]
[plugins.http.destinations.sink]
url = "http://127.0.0.1:9/inbox"
{plugins}
"""
    )


class Driver:
    """Posts webhooks straight into an ASGI app, ``concurrency`` at a time."""

    def __init__(self, app: Any, label: str) -> None:
        self.app = app
        self.label = label
        self.sent = 0

    async def one(self) -> int:
        self.sent += 1
        body = json.dumps(
            {"id": f"{self.label}-{uuid.uuid4().hex}", "from": "+255700000001", "text": "reading"}
        ).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/webhooks/bench",
            "raw_path": b"/webhooks/bench",
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-bench-token", TOKEN.encode()),
            ],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
        }
        status = 0
        sent_body = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        return status

    async def run(self, n: int, concurrency: int) -> None:
        left = n

        async def client() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                status = await self.one()
                if status != 200:
                    raise RuntimeError(f"{self.label}: webhook answered {status}")

        await asyncio.gather(*(client() for _ in range(concurrency)))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="webhooks per round and app")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--profile", choices=("all", "http"), help="cProfile one round of this app instead")
    parser.add_argument("--sort", default="tottime", help="cProfile sort key (tottime, cumulative, ncalls)")
    parser.add_argument("--save", type=Path, help="with --profile: also write the profile there (pstats format)")
    args = parser.parse_args()

    from core import create_app, load_settings
    from core.gateway import freeze_startup_heap
    from core.storage import migrate

    work = Path("/tmp") / f"switchboard-hotpath-{uuid.uuid4().hex[:6]}"
    work.mkdir(parents=True)
    db_name, db_url = await create_database()
    queues = {label: f"bench-{label}-{uuid.uuid4().hex[:6]}" for label in ("all", "http")}
    apps: dict[str, Any] = {}
    try:
        for label, queue in queues.items():
            config = work / f"{label}.toml"
            write_config(config, db_url, queue, everything=label == "all")
            settings = load_settings(config)
            if label == "all":
                await asyncio.to_thread(migrate.upgrade, settings)
            app = create_app(settings, plugins=[("bench", BenchPlugin())])
            await app.state.gateway.start()
            apps[label] = app
        freeze_startup_heap()
        drivers = {label: Driver(app, label) for label, app in apps.items()}
        for driver in drivers.values():  # warm-up: connections, caches, statement plans
            await driver.run(max(200, args.requests // 5), args.concurrency)

        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await drivers[args.profile].run(args.requests, args.concurrency)
            profiler.disable()
            if args.save:
                profiler.dump_stats(args.save)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(45)
            print(out.getvalue())
            return

        cpu: dict[str, list[float]] = {label: [] for label in apps}
        for _ in range(args.rounds):
            for label, driver in drivers.items():
                gc.collect()
                started = time.process_time()
                await driver.run(args.requests, args.concurrency)
                cpu[label].append((time.process_time() - started) * 1e6 / args.requests)
        for label, values in cpu.items():
            print(f"{label:5} CPU per webhook (µs), each round: {', '.join(f'{v:.0f}' for v in values)}")
        best = {label: min(values) for label, values in cpu.items()}
        print(f"every plugin ÷ http only (best rounds): {best['all'] / best['http']:.3f}")
    finally:
        for app in apps.values():
            await app.state.gateway.close()
        await drop_database(db_name)
        for queue in queues.values():
            await clear_queue(queue)


if __name__ == "__main__":
    asyncio.run(main())
