"""Processes, databases and wrk for the benchmarks. Everything runs on loopback and stops itself."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("SWITCHBOARD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("SWITCHBOARD_BENCH_REDIS", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def create_database() -> tuple[str, str]:
    name = f"sbbench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    host = PG_ADMIN.split("://", 1)[1].rsplit("/", 1)[0]
    return name, f"postgresql+asyncpg://{host}/{name}"


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


class Process:
    def __init__(self, args: list[str], *, env: dict[str, str] | None = None, log: Path | None = None) -> None:
        self.log = (log or Path(os.devnull)).open("ab")
        merged = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")} | (env or {})
        merged["PYTHONPATH"] = str(ROOT)
        self.popen = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=merged, cwd=ROOT)

    def rss_mb(self) -> float:
        try:
            text = Path(f"/proc/{self.popen.pid}/status").read_text()
        except OSError:
            return float("nan")
        match = re.search(r"VmRSS:\s+(\d+) kB", text)
        return int(match.group(1)) / 1024 if match else float("nan")

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used (from /proc)."""
        return proc_cpu(Path(f"/proc/{self.popen.pid}/stat").read_text())[1]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()


def proc_cpu(stat: str) -> tuple[str, float]:
    """A process's name and user + system CPU seconds, from the text of its /proc/<pid>/stat."""
    name, rest = stat.split("(", 1)[1].rsplit(")", 1)
    fields = rest.split()
    return name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def uvicorn(
    app: str, port: int, *, factory: bool = False, env: dict[str, str] | None = None, log: Path | None = None
) -> Process:
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]
    if factory:
        args.append("--factory")
    return Process(args, env=env, log=log)


async def wait_http(url: str, timeout: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout}s")


@dataclass
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int

    @staticmethod
    def parse(text: str) -> WrkResult:
        def ms(label: str) -> float:
            m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)\b", text)
            if not m:
                return float("nan")
            value, unit = float(m.group(1)), m.group(2)
            return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
        total = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
        errors = int(non2xx.group(1)) if non2xx else 0
        if socket_errors:
            errors += sum(int(g) for g in socket_errors.groups())
        return WrkResult(total, rps, ms("50"), ms("99"), errors)


def wrk(
    url: str,
    *,
    duration: int,
    connections: int,
    threads: int = 2,
    rate: float = 0,
    script: Path | None = None,
    run_id: str = "r",
) -> WrkResult:
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    args = [binary, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if script:
        args[1:1] = ["-s", str(script)]
    env = os.environ | {"RATE": str(rate), "THREADS": str(threads), "RUN_ID": run_id}
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=duration + 60, check=True)
    return WrkResult.parse(out.stdout)
