"""An unmigrated or out-of-date database is not ready: /readyz says which revision is missing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory

from core import Check, CheckFailed, hookimpl
from core.config.settings import Settings
from core.storage import migrate
from core.testing import gateway_client, make_settings
from tests.conftest import Stack, _create_pg_database, _drop_pg_database


@pytest.fixture
async def fresh(stack: Stack, tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings of the stack pointing at a database nobody has migrated."""
    if not stack.is_postgres:
        yield make_settings(tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}", queue=stack.queue)
        return
    name = await _create_pg_database()
    host = stack.database_url.split("://", 1)[1].rsplit("/", 1)[0]
    try:
        yield make_settings(tmp_path, database_url=f"postgresql+asyncpg://{host}/{name}", queue=stack.queue)
    finally:
        await _drop_pg_database(name)


async def test_readyz_on_an_unmigrated_database_is_503_naming_the_missing_revision(fresh: Settings) -> None:
    async with gateway_client(fresh, migrate=False) as client:
        r = await client.get("/readyz")
    assert r.status_code == 503
    schema = r.json()["components"]["schema"]
    core_head = ScriptDirectory(str(migrate.HERE)).get_current_head()
    assert schema["status"] == "down" and core_head in schema["missing"]
    assert "switchboard db upgrade" in schema["error"]


async def test_readyz_turns_ready_once_the_database_is_migrated(fresh: Settings) -> None:
    async with gateway_client(fresh, migrate=False) as client:
        assert (await client.get("/readyz")).status_code == 503
        await migrate_in_thread(fresh)
        r = await client.get("/readyz")
    assert r.status_code == 200 and r.json()["components"]["schema"] == {"status": "ok"}


async def migrate_in_thread(settings: Settings) -> None:
    import asyncio

    await asyncio.to_thread(migrate.upgrade, settings)


def test_serve_without_auto_migrate_says_which_command_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    from core import cli

    started: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(app))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "new.db"}"\nauto_migrate = false\n'
        f'[server]\ndata_dir = "{tmp_path / "data"}"\n'
    )
    for key in [k for k in __import__("os").environ if k.startswith("SWITCHBOARD_")]:
        monkeypatch.delenv(key)
    assert cli.main(["serve", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "missing revision" in err and "switchboard db upgrade" in err
    assert started, "the server still starts: /readyz reports it"


UNMIGRATED = "the database is not migrated; run `switchboard db upgrade`"


async def test_until_migrated_the_api_answers_503_with_the_hint_and_logs_nothing(
    fresh: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with gateway_client(fresh, migrate=False) as client:
        assert (await client.get("/readyz")).status_code == 503
        login = await client.post("/api/auth/token", json={"username": "admin", "password": "x" * 12})
        listed = await client.get("/api/messages")
        for r in (login, listed):
            assert r.status_code == 503 and r.json()["error"] == UNMIGRATED
        await client.gateway.audit.flush()
    assert not [r for r in caplog.records if r.levelno >= 30 or r.exc_info], caplog.text


async def test_once_migrated_the_api_answers_again(fresh: Settings) -> None:
    async with gateway_client(fresh, migrate=False) as client:
        assert (await client.get("/api/messages")).status_code == 503
        await migrate_in_thread(fresh)
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/api/messages")).status_code == 401  # asks who is calling again


@pytest.mark.stacks("postgres")
async def test_serving_an_unmigrated_postgresql_says_so_once_and_answers_503(fresh: Settings, tmp_path: Path) -> None:
    import os
    import re
    import subprocess
    import sys

    import httpx

    from core.testing import wait_until
    from tests.support.receiver import free_port

    port = free_port()
    config = tmp_path / "serve.toml"
    config.write_text(
        f'[database]\nurl = "{fresh.database.url}"\n'
        f'[queue]\nbackend = "{fresh.queue.backend}"\nredis_url = "{fresh.queue.redis_url}"\nname = "{fresh.queue.name}"\n'
        f'[server]\nport = {port}\ndata_dir = "{tmp_path / "data"}"\n'
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "serve", "--config", str(config)],
            cwd=tmp_path,
            env=base,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

                async def readyz() -> httpx.Response | None:
                    assert proc.poll() is None, log.read_text()
                    try:
                        return await client.get("/readyz")
                    except httpx.TransportError:
                        return None

                r = await wait_until(readyz, timeout=60, interval=0.1, message="switchboard serve to answer")
                assert r.status_code == 503
                login = await client.post("/api/auth/token", json={"username": "admin", "password": "x" * 12})
                assert login.status_code == 503 and login.json()["error"] == UNMIGRATED
                assert (await client.get("/api/deliveries")).status_code == 503
        finally:
            proc.terminate()  # a graceful stop: whatever the audit writer holds is written, or fails, now
            proc.wait(timeout=60)
    text = log.read_text()
    assert "Traceback" not in text, text
    assert not re.search(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) ", text, re.MULTILINE), text
    assert sum(line.startswith("error: the database is not migrated") for line in text.splitlines()) == 1


@pytest.mark.stacks("postgres")
async def test_a_worker_on_an_unmigrated_database_says_so_once_and_starts_once_it_is_migrated(
    fresh: Settings, tmp_path: Path
) -> None:
    import asyncio
    import os
    import re
    import subprocess
    import sys

    from core.testing import wait_until

    config = tmp_path / "worker.toml"
    config.write_text(
        f'[database]\nurl = "{fresh.database.url}"\n'
        f'[queue]\nbackend = "arq"\nredis_url = "{fresh.queue.redis_url}"\nname = "{fresh.queue.name}"\n'
        f'[server]\ndata_dir = "{tmp_path / "data"}"\n'
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    command = [sys.executable, "-m", "core.cli", "worker", "--config", str(config)]
    # One pass (--burst) has nothing to run on: one line, exit 1.
    burst = subprocess.run([*command, "--burst"], cwd=tmp_path, env=base, capture_output=True, text=True, timeout=60)
    assert burst.returncode == 1 and "Traceback" not in burst.stderr, burst.stderr
    assert burst.stderr.startswith("error: the database is not migrated (missing revision ")
    assert "run `switchboard db upgrade`" in burst.stderr and len(burst.stderr.splitlines()) == 1
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=tmp_path, env=base, stdout=out, stderr=subprocess.STDOUT)
        try:

            def said(text: str) -> bool:
                assert proc.poll() is None, log.read_text()
                return text in log.read_text()

            await wait_until(lambda: said("not migrated"), timeout=60, interval=0.1, message="the worker's line")
            await asyncio.sleep(2.5)  # it keeps asking, once a second, without saying it again
            await asyncio.to_thread(migrate.upgrade, fresh)
            await wait_until(lambda: said("the worker starts"), timeout=60, interval=0.1, message="the worker to start")
        finally:
            proc.terminate()
            code = proc.wait(timeout=60)
    text = log.read_text()
    assert code == 0 and "Traceback" not in text, text
    assert len(re.findall("the database is not migrated", text)) == 1, text
    assert "alembic" not in text, text


class _Checked:
    """A plugin with two outside dependencies: one up, one down for a reason it does not explain."""

    @hookimpl
    def switchboard_checks(self) -> list[Check]:
        async def up(thorough: bool) -> None:
            return None

        async def down(thorough: bool) -> None:
            raise RuntimeError("connect to https://user:pw@far.example/ failed")

        async def explained(thorough: bool) -> None:
            raise CheckFailed("the far API refused the key: renew it")

        return [Check("far:up", up), Check("far:down", down), Check("far:explained", explained)]


async def test_readyz_runs_the_plugins_checks_and_shows_only_what_they_explain(app_client: Any) -> None:
    async with app_client(extra_plugins=[("checked", _Checked())]) as client:
        r = await client.get("/readyz")
    assert r.status_code == 503
    components = r.json()["components"]
    assert components["far:up"]["status"] == "ok" and components["database"]["status"] == "ok"
    assert components["far:down"] == {"status": "down", "error": "RuntimeError"}  # not its message
    assert components["far:explained"] == {"status": "down", "error": "the far API refused the key: renew it"}
