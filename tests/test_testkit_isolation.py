"""The test kit loads the plugins a test names (and the core), not every installed plugin.

A third-party plugin installed beside the gateway, which needs a setting no test here gives,
must not break tests that do not name it (issue #25: `[plugins.smsco] secret: required key is
missing` in the gateway's own suite). It is "installed" as pip would: a dist-info with an entry
point, in a folder on sys.path, without touching the shared environment.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import core.testing
from core.errors import ConfigError
from core.gateway import Gateway
from core.plugins import PluginRegistry
from core.testing import gateway_client, make_settings

SMSCO = """
from pydantic import BaseModel

from core import hookimpl


class SmscoSettings(BaseModel):
    secret: str


@hookimpl
def switchboard_settings(config):
    return SmscoSettings.model_validate(dict(config))
"""


@pytest.fixture
def smsco_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    site = tmp_path / "site"
    dist_info = site / "switchboard_smsco-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (site / "smsco_plugin.py").write_text(SMSCO)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: switchboard-smsco\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text("[switchboard]\nsmsco = smsco_plugin\n")
    monkeypatch.syspath_prepend(str(site))  # also invalidates the import caches
    yield
    sys.modules.pop("smsco_plugin", None)


def test_the_installed_plugin_is_seen_when_every_installed_plugin_is_asked_for(
    smsco_installed: None, tmp_path: Path
) -> None:
    # What production does, and what the kit did for every test: the plugin's missing setting stops it.
    with pytest.raises(ConfigError, match=r"\[plugins\.smsco\].*secret"):
        PluginRegistry(make_settings(tmp_path, installed="all"))


async def test_a_gateway_of_a_test_that_does_not_name_it_starts_without_it(
    smsco_installed: None, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    async with gateway_client(settings, run_queue=False) as client:
        assert "smsco" not in client.gateway.plugins.infos
        assert (await client.get("/healthz")).status_code == 200
    # A worker that run_jobs builds from the same settings (a gateway of its own) leaves it out too.
    assert "smsco" not in Gateway(settings.model_copy()).plugins.infos


def test_a_plugin_named_by_its_settings_table_or_by_installed_is_loaded(smsco_installed: None, tmp_path: Path) -> None:
    configured = PluginRegistry(make_settings(tmp_path, plugins={"smsco": {"secret": "s3"}}))
    assert configured.plugin_settings["smsco"].secret == "s3"
    with pytest.raises(ConfigError, match=r"\[plugins\.smsco\].*secret"):
        PluginRegistry(make_settings(tmp_path, installed=["smsco"]))


def test_by_default_the_kit_loads_no_installed_plugin_but_the_core(
    smsco_installed: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This suite names its own plugins in conftest.py; a plugin package's suite names none.
    monkeypatch.setattr(core.testing, "default_installed", [])
    registry = PluginRegistry(make_settings(tmp_path))
    assert registry.infos == {} and registry.enabled == []
    named = PluginRegistry(make_settings(tmp_path, installed=["http"]))
    assert list(named.infos) == ["http"]
