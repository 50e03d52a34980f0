"""Real processes for end-to-end tests: a private Redis server and ``switchboard worker``.

The private Redis lets a test kill and restart Redis without touching the shared one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from core.testing import wait_until
from tests.support.receiver import free_port


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (CI's .ci/run installs it)"
        self.binary = binary

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = aioredis.from_url(self.url)

        async def answers() -> bool:
            try:
                return bool(await client.ping())
            except (OSError, aioredis.RedisError):
                return False

        try:
            await wait_until(answers, timeout=10, message="the private redis-server to start")
        finally:
            await client.aclose()

    def kill(self) -> None:
        """SIGKILL: everything in it is gone (it keeps nothing on disk)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None


class WorkerProcess:
    """``switchboard worker --config PATH`` in a subprocess."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        self._out = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "worker", "--config", str(self.config)],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if hasattr(self, "_out"):
            self._out.close()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {toml_value(v)}' for k, v in value.items()) + " }"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path: Path, settings: dict[str, Any]) -> Path:
    """Write a settings dict as config.toml (tables, arrays of tables for routes)."""
    lines: list[str] = []

    def table(prefix: str, data: dict[str, Any]) -> None:
        scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
        nested = {k: v for k, v in data.items() if isinstance(v, dict)}
        if scalars:
            lines.append(f"[{prefix}]")
            lines.extend(f"{k} = {toml_value(v)}" for k, v in scalars.items())
        for k, v in nested.items():
            table(f'{prefix}."{k}"' if "-" in k else f"{prefix}.{k}", v)

    for key, value in settings.items():
        if key == "routes":
            for route in value:
                lines.append("[[routes]]")
                lines.extend(f"{k} = {toml_value(v)}" for k, v in route.items())
        elif isinstance(value, dict):
            table(key, value)
    path.write_text("\n".join(lines) + "\n")
    return path
