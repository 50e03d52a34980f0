"""A [[routes]] typo is one line from `config check` and at start-up; `plugins` lists plugins with secrets unset."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.testing import make_settings
from core.web.app import create_app
from tests.test_cli import run


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[server]\ndata_dir = "{tmp_path / "data"}"\n' + text)
    return path


def test_config_check_names_a_route_destination_no_plugin_provides(tmp_path: Path) -> None:
    _config(tmp_path, '[[routes]]\nsource = "whatsapp"\ndestinations = ["whatsap"]\n')
    result = run("config", "check", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "[[routes]] #1" in line and "'whatsap'" in line and "did you mean 'whatsapp'" in line


def test_config_check_warns_of_a_route_source_no_adapter_serves(tmp_path: Path) -> None:
    # A warning, not an error: a plugin may submit its own platform's messages through gateway.submit.
    _config(tmp_path, '[[routes]]\nsource = "whatsap"\ndestinations = ["whatsapp"]\n')
    result = run("config", "check", cwd=tmp_path)
    [warning] = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert "source 'whatsap'" in warning and "did you mean 'whatsapp'" in warning


def test_start_up_refuses_a_route_to_an_unknown_destination(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, routes=[{"source": "whatsapp", "destinations": ["nowhere"]}])
    with pytest.raises(ConfigError, match="no enabled plugin provides the destination 'nowhere'"):
        create_app(settings)


def test_plugins_are_listed_with_the_secrets_they_miss(tmp_path: Path) -> None:
    _config(tmp_path, '[plugins.whatsapp]\napp_secret = "${SB_TEST_UNSET_SECRET}"\n')
    result = run("plugins", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "whatsapp" in result.stdout and "dhis2" in result.stdout
    assert "missing secrets: SB_TEST_UNSET_SECRET ([plugins.whatsapp] app_secret)" in result.stdout
