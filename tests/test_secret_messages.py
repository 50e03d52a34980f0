"""No error message shows a secret's value: a rejected secret is named by its key and the rule it broke.

`config check`, `serve` and `plugins` used to print pydantic's input (``got 'shortkey'``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config.settings import settings_from_dict
from core.errors import ConfigError
from tests.test_cli import run

SHORT_KEY = "shortkey"
EEMIS_SECRET = "h1-eemis-secret"
SIGNING_KEY = "mg-key7"

CONFIG = """
[plugins.ceemis]
base_url = "http://127.0.0.1:9"
[plugins.ceemis.webhooks.eemis]
secret = "${EEMIS_SECRET}"
"""


@pytest.mark.parametrize(
    "command", [("config", "check"), ("serve",), ("plugins",)], ids=["config-check", "serve", "plugins"]
)
def test_a_too_short_core_secret_is_named_not_shown(tmp_path: Path, command: tuple[str, ...]) -> None:
    result = run(*command, cwd=tmp_path, env={"SWITCHBOARD_AUTH__SECRET_KEY": SHORT_KEY})
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert "[auth] secret_key" in output and "at least 32 characters" in output
    assert SHORT_KEY not in output


@pytest.mark.parametrize(
    "command", [("config", "check"), ("serve",), ("plugins",)], ids=["config-check", "serve", "plugins"]
)
def test_a_too_short_plugin_secret_from_the_environment_is_named_not_shown(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    (tmp_path / "config.toml").write_text(CONFIG)
    result = run(*command, cwd=tmp_path, env={"EEMIS_SECRET": EEMIS_SECRET})
    output = result.stdout + result.stderr
    assert "[plugins.ceemis] webhooks.eemis.secret" in output and "at least 16 characters" in output
    assert EEMIS_SECRET not in output


def test_a_too_short_signing_key_set_by_an_environment_override_is_not_shown(tmp_path: Path) -> None:
    env = {"SWITCHBOARD_PLUGINS__EMAIL__SIGNING_KEY": SIGNING_KEY}
    result = run("config", "check", cwd=tmp_path, env=env)
    assert result.returncode == 2 and "signing_key" in result.stderr
    assert SIGNING_KEY not in result.stdout + result.stderr


def test_a_value_from_the_environment_is_not_shown_wherever_it_sits() -> None:
    # A value written as ${VAR} is a secret, whatever its key is called.
    with pytest.raises(ConfigError) as raised:
        settings_from_dict({"server": {"port": "${PORT_SECRET}"}}, environ={"PORT_SECRET": "not-a-port-0451"})
    assert "not-a-port-0451" not in str(raised.value) and "[server] port" in str(raised.value)


def test_a_secret_quoted_by_a_plugins_own_validator_is_masked(tmp_path: Path) -> None:
    # whatsapp's validator quotes the text it refuses; from ${VAR}, that text is a secret.
    config = '[plugins.whatsapp.acknowledgement]\ntext = "${ACK_TEXT}"\n'
    (tmp_path / "config.toml").write_text(config)
    result = run("config", "check", cwd=tmp_path, env={"ACK_TEXT": "Thanks {unbalanced-7731"})
    assert result.returncode == 2 and "acknowledgement" in result.stderr
    assert "unbalanced-7731" not in result.stdout + result.stderr
