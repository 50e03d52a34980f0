"""The `switchboard` command line: every command documented, one clear line on bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from core.storage import migrate

# The newest core revision: what `db current` shows for core once upgraded.
CORE_HEAD = ScriptDirectory(str(migrate.HERE)).get_current_head()


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *args],
        cwd=cwd,
        env=base | (env or {}),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_lists_every_command(tmp_path: Path) -> None:
    out = run("--help", cwd=tmp_path).stdout
    for command in ("serve", "worker", "db", "plugins", "config"):
        assert command in out
    for sub in (("db", "--help"), ("serve", "--help"), ("config", "check", "--help")):
        result = run(*sub, cwd=tmp_path)
        assert result.returncode == 0 and "--config" in result.stdout


def test_config_check_prints_the_resolved_config_with_secrets_masked(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[auth]\nsecret_key = "${SB_SECRET}"\n[plugins.http.destinations.crm]\nurl = "http://x"\n'
        'secret = "${CRM_SECRET}"\n'
    )
    result = run(
        "config",
        "check",
        "--config",
        str(config),
        cwd=tmp_path,
        env={"SB_SECRET": "s" * 40, "CRM_SECRET": "crm-very-secret"},
    )
    assert result.returncode == 0, result.stderr
    assert "s" * 40 not in result.stdout and "crm-very-secret" not in result.stdout
    assert '"secret": "***"' in result.stdout and "configuration OK" in result.stderr


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("[server\n", {}, "not valid TOML"),
        ('[auth]\nsecret_key = "${NOPE_NOT_SET}"\n', {}, "NOPE_NOT_SET is not set"),
        ("[plugins.nosuch]\nx = 1\n", {}, "no plugin named 'nosuch' is installed"),
        ('[plugins.http.destinations.crm]\nurl = "not a url"\n', {}, "[plugins.http] destinations.crm.url"),
        ("[database]\nurll = 1\n", {}, "[database] urll: unknown key"),
        (
            '[auth.roles.reporter]\npermissions = ["reports.requset"]\n',
            {},
            "config.toml: [auth] roles.reporter.permissions: unknown permission 'reports.requset'; did you mean 'reports.request'?",
        ),
        ('[auth.roles.reporter]\npermission = ["traffic.read"]\n', {}, "[auth] roles.reporter.permissions: required key is missing"),
        ('[auth.roles.admin]\npermissions = ["traffic.read"]\n', {}, "[auth] roles.admin: the admin role holds every"),
        ("", {"SWITCHBOARD_DATABASE__URLL": "x"}, "environment variable SWITCHBOARD_DATABASE__URLL ([database] urll)"),
        (
            "",
            {"SWITCHBOARD_PLUGINS__HTTP__DESTINATIONS": '{"crm": {"url": "not a url"}}'},
            "environment variable SWITCHBOARD_PLUGINS__HTTP__DESTINATIONS ([plugins.http] destinations.crm.url)",
        ),
        (
            '[plugins.http.destinations.crm]\nurl = "http://x"\nsecret = "${CRM_SECRET}"\n',
            {"CRM_SECRET": ""},
            "[plugins.http] destinations.crm.secret: environment variable CRM_SECRET is empty",
        ),
    ],
)
def test_bad_configuration_is_one_line_and_a_nonzero_exit(
    tmp_path: Path, text: str, env: dict[str, str], expected: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    result = run("config", "check", "--config", str(config), cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "postgresql+asyncpg://nobody@127.0.0.1:1/none"\n')
    result = run("db", "upgrade", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert "database unreachable" in result.stderr and "Traceback" not in result.stderr


def _core_head() -> str:
    """The newest core revision (branches add their own on top of 0001_core)."""
    from alembic.script import ScriptDirectory

    import core.storage.migrations

    (head,) = ScriptDirectory(str(Path(core.storage.migrations.__file__).parent)).get_heads()
    return head


def test_db_upgrade_and_current(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "cli.db"}"\n')
    assert "(empty database" in run("db", "current", "--config", str(config), cwd=tmp_path).stdout
    up = run("db", "upgrade", "--config", str(config), cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    assert f"{CORE_HEAD} (head)" in run("db", "current", "--config", str(config), cwd=tmp_path).stdout


def test_plugins_lists_name_version_state_and_contributions(example_installed: None, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[plugins.http.destinations.crm]\nurl = "http://127.0.0.1:9/x"\n[plugins.example]\nenabled = false\n'
    )
    out = run("plugins", "--config", str(config), cwd=tmp_path).stdout
    assert "http" in out and "(enabled)" in out and "destinations: crm" in out
    assert "example 1.2.3 (disabled)" in out


def test_worker_refuses_the_local_queue(tmp_path: Path) -> None:
    result = run("worker", cwd=tmp_path)
    assert result.returncode == 2 and "[queue] backend" in result.stderr


async def test_serve_answers_healthz_on_the_embedded_default(tmp_path: Path) -> None:
    """The README's first command on a fresh directory: migrate, serve, answer."""
    import httpx

    from core.testing import wait_until
    from tests.support.receiver import free_port

    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=base,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def healthz() -> httpx.Response | None:
                assert proc.poll() is None, "switchboard serve exited"
                try:
                    return await client.get("/healthz")
                except httpx.TransportError:
                    return None

            r = await wait_until(healthz, timeout=30, interval=0.1, message="switchboard serve to answer")
            assert r.status_code == 200
            assert (await client.get("/docs")).status_code == 200
        assert (tmp_path / "switchboard.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_config_may_come_before_or_after_the_action(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "where.db"}"\n')
    assert run("db", "--config", str(config), "upgrade", cwd=tmp_path).returncode == 0
    assert f"{CORE_HEAD} (head)" in run("db", "current", "--config", str(config), cwd=tmp_path).stdout
    assert not (tmp_path / "switchboard.db").exists()


def test_config_may_come_before_the_command(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "where.db"}"\n')
    check = run("--config", str(config), "config", "check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert str(config) in check.stderr and "where.db" in check.stdout
    assert run(f"--config={config}", "db", "upgrade", cwd=tmp_path).returncode == 0
    assert f"{CORE_HEAD} (head)" in run("--config", str(config), "db", "current", cwd=tmp_path).stdout
    assert not (tmp_path / "switchboard.db").exists()


def test_config_before_a_plugin_command_is_the_one_it_uses(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "where.db"}"\n')
    listed = run("--config", str(config), "users", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert (tmp_path / "where.db").exists() and not (tmp_path / "switchboard.db").exists()


LOADED_BY_HELP = """
import sys
from core.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("MODULES", " ".join(sorted(sys.modules)))
"""


def modules_after(*args: str, cwd: Path) -> tuple[str, set[str]]:
    """What `switchboard ARGS` prints, and the modules it imported on the way."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    done = subprocess.run(
        [sys.executable, "-c", LOADED_BY_HELP, *args], cwd=cwd, env=base, capture_output=True, text=True, timeout=120
    )
    out, _, modules = done.stdout.rpartition("MODULES ")
    return out, set(modules.split())


def test_help_lists_plugin_commands_without_importing_plugins_the_orm_or_openpyxl(tmp_path: Path) -> None:
    out, modules = modules_after("--help", cwd=tmp_path)
    for command in ("serve", "users", "new-plugin", "dhis2"):
        assert f"    {command} " in out
    heavy = {"openpyxl", "sqlalchemy.orm", "sqlalchemy.ext.asyncio", "starlette.applications", "aiohttp", "core.builtin"}
    assert sorted(heavy & modules) == []
    assert sorted(m for m in modules if m.split(".")[0] in ("plugins", "admin_ui")) == []


def test_a_plugin_command_is_imported_when_it_runs_and_not_before(tmp_path: Path) -> None:
    out, modules = modules_after("dhis2", "--help", cwd=tmp_path)
    assert "check" in out and "plugins.dhis2.cli" in modules
    out, modules = modules_after("new-plugin", "--help", cwd=tmp_path)
    assert "NAME" in out and "plugins.dhis2.cli" not in modules and "core.auth.cli" not in modules


def test_a_disabled_plugins_command_is_not_listed(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[plugins.dhis2]\nenabled = false\n")
    out = run("--help", cwd=tmp_path).stdout
    assert "    users " in out and "dhis2" not in out
    assert run("dhis2", "check", cwd=tmp_path).returncode == 2
