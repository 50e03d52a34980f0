"""Plugins: discovered through entry points, toggled by config.toml, written against the public API."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import pytest

from core import CronJob, hookimpl
from core.errors import ConfigError, PluginError
from core.plugins import PluginRegistry
from core.testing import make_settings


def test_builtin_plugins_register_through_entry_points() -> None:
    names = {ep.name for ep in importlib.metadata.entry_points(group="switchboard")}
    assert "http" in names


def test_external_plugin_is_discovered(example_installed: None, tmp_path: Path) -> None:
    registry = PluginRegistry(make_settings(tmp_path))
    info = registry.infos["example"]
    assert info.enabled and info.version == "1.2.3"


async def test_external_plugin_route_and_adapter_work(example_installed: None, app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(routes=[{"source": "echo", "destinations": ["memory"]}]) as client:
        assert "echo" in client.gateway.adapters and "memory" in client.gateway.destinations
        body = b'[{"id": "e1", "from": "alice", "text": "hi"}]'
        bad = await client.post("/webhooks/echo", content=body, headers={"x-echo-token": "wrong-token"})
        assert bad.status_code == 401
        ok = await client.post("/webhooks/echo", content=body, headers={"x-echo-token": "example-token"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["stored"] == 1
        # The plugin's route exists and is protected like every other route.
        assert (await client.get("/plugins/example/hello")).status_code == 401


async def test_disabled_plugin_contributes_nothing(example_installed: None, app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(plugins={"example": {"enabled": False}}) as client:
        assert "echo" not in client.gateway.adapters
        assert "memory" not in client.gateway.destinations
        assert (await client.post("/webhooks/echo", content=b"[]")).status_code == 404
        assert (await client.get("/plugins/example/hello")).status_code == 404
        assert client.gateway.plugins.infos["example"].enabled is False


def test_invalid_plugin_settings_stop_startup_naming_the_plugin(example_installed: None, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, plugins={"example": {"token": "short"}})
    with pytest.raises(ConfigError, match=r"\[plugins.example\].*token"):
        PluginRegistry(settings)


def test_table_for_a_plugin_that_is_not_installed_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no plugin named 'nosuch' is installed"):
        PluginRegistry(make_settings(tmp_path, plugins={"nosuch": {}}))


def test_plugin_that_fails_to_import_stops_startup_with_name_and_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = importlib.metadata.EntryPoint(name="broken", value="no_such_module_xyz", group="switchboard")
    real = importlib.metadata.entry_points

    def fake_entry_points(**kwargs):  # type: ignore[no-untyped-def]
        found = list(real(**kwargs))
        return [*found, broken] if kwargs.get("group") == "switchboard" else found

    monkeypatch.setattr("core.plugins.entry_points", fake_entry_points)
    with pytest.raises(PluginError, match=r"plugin broken \(no_such_module_xyz unknown\) failed to load"):
        PluginRegistry(make_settings(tmp_path, installed="all"))
    # ... and a disabled broken plugin is not even imported.
    PluginRegistry(make_settings(tmp_path, plugins={"broken": {"enabled": False}}))


def test_two_destinations_with_one_name_are_rejected(tmp_path: Path) -> None:
    from core import Destination, hookimpl
    from core.gateway import Gateway

    class Twin:
        @hookimpl
        def switchboard_destinations(self) -> list[Destination]:
            d = Destination()
            d.name = "twin"
            return [d]

    settings = make_settings(tmp_path)
    with pytest.raises(PluginError, match="two destinations are named 'twin'"):
        Gateway(settings, [("one", Twin()), ("two", Twin())])


class CronSweep:
    """A plugin whose cron job is named like the core's own sweep."""

    @hookimpl
    def switchboard_jobs(self) -> list[Any]:
        async def sweep(ctx: dict[str, Any]) -> None:
            return None

        return [CronJob("sweep", sweep, every=60)]


async def export(ctx: dict[str, Any], what: str) -> None:
    return None


class Exporter:
    """A plugin with a worker job ``export`` (a job is named by its function's qualified name)."""

    @hookimpl
    def switchboard_jobs(self) -> list[Any]:
        return [export]


def test_a_cron_job_named_like_another_plugins_is_refused_naming_both(tmp_path: Path) -> None:
    from core.gateway import Gateway

    with pytest.raises(PluginError, match=r"^two cron jobs are named 'sweep' \(plugins 'core' and 'shadow'\)$"):
        Gateway(make_settings(tmp_path), [("shadow", CronSweep())])


def test_two_plugins_with_one_job_name_are_refused_naming_both(tmp_path: Path) -> None:
    from core.gateway import Gateway

    with pytest.raises(PluginError, match=r"^two jobs are named 'export' \(plugins 'first' and 'second'\)$"):
        Gateway(make_settings(tmp_path), [("first", Exporter()), ("second", Exporter())])


def test_a_job_and_a_cron_job_may_share_a_name(tmp_path: Path) -> None:
    """Worker jobs and cron jobs are told apart (``run now`` names a cron job, ``enqueue_job`` a job)."""
    from core.gateway import Gateway

    class ExportCron:
        @hookimpl
        def switchboard_jobs(self) -> list[Any]:
            async def nightly(ctx: dict[str, Any]) -> None:
                return None

            return [CronJob("export", nightly, every=3600)]

    gateway = Gateway(make_settings(tmp_path), [("jobs", Exporter()), ("crons", ExportCron())])
    assert "export" in gateway.jobs() and "export" in {j.name for j in gateway.cron_jobs()}


def test_misspelt_hook_fails_loudly(tmp_path: Path) -> None:
    from core import hookimpl
    from core.gateway import Gateway

    class Typo:
        @hookimpl
        def switchboard_destination(self) -> list[object]:
            return []

    with pytest.raises(PluginError, match="typo"):
        Gateway(make_settings(tmp_path), [("typo", Typo())])


class _Closing:
    def __init__(self, fails: bool) -> None:
        self.fails = fails
        self.closed = False

    @hookimpl
    async def switchboard_shutdown(self, gateway: Any) -> None:
        self.closed = True
        if self.fails:
            raise RuntimeError("could not close its connection")


async def test_a_failing_shutdown_hook_does_not_keep_the_other_plugins_from_closing(app_client, caplog) -> None:  # type: ignore[no-untyped-def]
    # pluggy stops a call at the first implementation that raises: a plugin after it would keep
    # its connections open, and the error came out of the gateway's close.
    first, middle, last = _Closing(fails=True), _Closing(fails=False), _Closing(fails=True)
    async with app_client(extra_plugins=[("first", first), ("middle", middle), ("last", last)]):
        pass
    assert first.closed and middle.closed and last.closed
    failed = [r.getMessage() for r in caplog.records if "switchboard_shutdown hook failed" in r.getMessage()]
    assert sorted(failed) == [
        "plugin first: its switchboard_shutdown hook failed",
        "plugin last: its switchboard_shutdown hook failed",
    ]
