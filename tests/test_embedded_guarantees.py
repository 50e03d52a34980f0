"""The embedded default (SQLite, in-process queue) loses nothing when `switchboard serve` is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from core.testing import wait_until
from tests.support.processes import write_config
from tests.support.receiver import free_port, running_receiver

N = 30


async def wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:

        async def ready() -> bool:
            assert process.poll() is None, "switchboard serve exited"
            try:
                return (await client.get(f"{base}/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        await wait_until(ready, timeout=15, message="switchboard serve to be ready")


@pytest.mark.stacks("sqlite")
async def test_serve_killed_mid_delivery_delivers_everything_after_restart(
    example_installed: None, stack_name: str, tmp_path: Path
) -> None:
    async with running_receiver() as receiver:
        receiver.delay = 0.2  # slow enough that the kill lands with deliveries under way
        port = free_port()
        config = write_config(
            tmp_path / "config.toml",
            {
                "server": {"port": port, "data_dir": str(tmp_path / "data")},
                "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"},
                "queue": {"backend": "local", "local_workers": 2, "sweep_interval": 1, "job_timeout": 3},
                "routes": [{"source": "echo", "destinations": ["crm"]}],
                "plugins": {"http": {"destinations": {"crm": {"url": receiver.url}}}},
            },
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        command = [sys.executable, "-m", "core.cli", "serve", "--config", str(config)]
        log = (tmp_path / "serve.log").open("ab")
        base = f"http://127.0.0.1:{port}"
        first = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
        try:
            await wait_ready(base, first)
            async with httpx.AsyncClient(base_url=base) as client:
                for i in range(N):
                    body = json.dumps([{"id": f"e{i}", "from": "+1", "text": str(i)}]).encode()
                    r = await client.post("/webhooks/echo", content=body, headers={"x-echo-token": "example-token"})
                    assert r.status_code == 200
            await wait_until(lambda: len(receiver.requests) >= 3, timeout=30, message="three deliveries under way")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        assert len({b["external_id"] for b in receiver.bodies()}) < N, "everything was delivered before the kill"

        receiver.delay = 0
        second = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
        try:
            await wait_ready(base, second)
            await wait_until(
                lambda: {b["external_id"] for b in receiver.bodies()} == {f"e{i}" for i in range(N)},
                timeout=20,
                message="every message to reach the receiver",
            )
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
            log.close()
        assert {b["external_id"] for b in receiver.bodies()} == {f"e{i}" for i in range(N)}
