"""`switchboard dhis2 check [instance]`: DHIS2 version, and whether the credentials work."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from plugins.dhis2.cli import COMMAND
from tests.fakes.dhis2_metadata import TOKEN
from tests.support.receiver import free_port


def args(instance: str | None = None, as_json: bool = False) -> argparse.Namespace:
    return argparse.Namespace(instance=instance, json=as_json)


async def test_check_reports_the_version_and_the_user(dhis2_app, capsys) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        assert await COMMAND.run(client.gateway, args()) == 0
    out = capsys.readouterr().out
    assert "national: OK, DHIS2 2.40.4" in out and "as admin" in out


async def test_check_says_when_the_credentials_are_refused(dhis2_app, capsys) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(instance={"token": "d2pat_revoked"}) as client:
        assert await COMMAND.run(client.gateway, args("national")) == 1
    assert "national: FAILED" in capsys.readouterr().out


async def test_check_says_when_an_instance_is_unreachable(app_client, capsys) -> None:  # type: ignore[no-untyped-def]
    instance = {"base_url": f"http://127.0.0.1:{free_port()}", "token": TOKEN}
    async with app_client(plugins={"dhis2": {"instances": {"offline": instance}}}) as client:
        assert await COMMAND.run(client.gateway, args(as_json=True)) == 1
    [result] = json.loads(capsys.readouterr().out)
    assert result["ok"] is False and result["error"].startswith("unreachable: ConnectError")


async def test_check_of_an_unknown_instance_is_a_usage_error(dhis2_app, capsys) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        assert await COMMAND.run(client.gateway, args("district")) == 2
    assert "unknown DHIS2 instance 'district'" in capsys.readouterr().out


async def test_the_switchboard_command_line_runs_the_check(dhis2, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/cli.db"\n'
        f'[server]\ndata_dir = "{tmp_path}/data"\n'
        f'[plugins.dhis2.instances.national]\nbase_url = "{dhis2.url}"\ntoken = "${{DHIS2_PAT}}"\n'
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "core.cli",
        "dhis2",
        "check",
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"DHIS2_PAT": TOKEN, "PATH": "/usr/bin:/bin"},
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert out.decode().startswith("national: OK, DHIS2 2.40.4")
