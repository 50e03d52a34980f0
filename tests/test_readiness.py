"""An unmigrated or out-of-date database is not ready: /readyz says which revision is missing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory

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
