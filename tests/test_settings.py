"""Settings: config.toml, environment overrides, ${SECRET} references, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config.settings import load_settings
from core.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_embedded_stack(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), environ={})
    assert settings.database.url.startswith("sqlite+aiosqlite://")
    assert settings.queue.backend == "local"
    assert settings.delivery.max_attempts == 8


def test_environment_overrides_any_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite+aiosqlite:///a.db"\n[queue]\nlocal_workers = 2\n')
    settings = load_settings(
        path,
        environ={
            "SWITCHBOARD_DATABASE__URL": "postgresql+asyncpg://u@h/db",
            "SWITCHBOARD_QUEUE__LOCAL_WORKERS": "5",
            "SWITCHBOARD_AUDIT__REDACT_KEYS": '["pin"]',
        },
    )
    assert settings.database.url == "postgresql+asyncpg://u@h/db"
    assert settings.queue.local_workers == 5
    assert settings.audit.redact_keys == ["pin"]


def test_config_path_comes_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9001\n")
    assert load_settings(environ={"SWITCHBOARD_CONFIG": str(path)}).server.port == 9001


def test_secret_references_are_resolved_and_masked(tmp_path: Path) -> None:
    path = write(tmp_path, '[auth]\nsecret_key = "${SB_KEY}"\n[plugins.http.destinations.crm]\nurl = "http://x"\n')
    settings = load_settings(path, environ={"SB_KEY": "k" * 40})
    assert settings.auth.secret_key == "k" * 40
    assert settings.masked()["auth"]["secret_key"] == "***"
    assert "k" * 40 not in repr(settings.masked())


def test_secret_reference_with_default(tmp_path: Path) -> None:
    path = write(tmp_path, '[queue]\nredis_url = "${REDIS:-redis://127.0.0.1:6379/3}"\n')
    assert load_settings(path, environ={}).queue.redis_url.endswith("/3")


def test_password_in_database_url_is_masked(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "postgresql+asyncpg://sb:hunter2@db/sb"\n')
    masked = load_settings(path, environ={}).masked()
    assert "hunter2" not in masked["database"]["url"]


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        ('[auth]\nsecret_key = "${MISSING_SECRET}"\n', {}, "[auth] secret_key: environment variable MISSING_SECRET"),
        ("[server]\nprot = 1\n", {}, "[server] prot: unknown key"),
        ('[server]\nport = "eighty"\n', {}, "[server] port:"),
        ("[server]\nport = 70000\n", {}, "[server] port:"),
        ('[queue]\nbackend = "celery"\n', {}, "[queue] backend:"),
        ('[database]\nurl = "mysql://x"\n', {}, "[database] url:"),
        ('[[routes]]\nsource = "whatsapp"\n', {}, "[[routes]] #1 destinations: required key is missing"),
        ("[server\nport = 1\n", {}, "not valid TOML"),
        ("", {"SWITCHBOARD_SERVER__PORT": "x"}, "SWITCHBOARD_SERVER__PORT ([server] port):"),
        ('[plugins.http]\nenabled = "maybe"\n', {}, "[plugins.http] 'enabled' must be true or false"),
    ],
)
def test_bad_configuration_gives_one_line_naming_file_and_key(
    tmp_path: Path, text: str, environ: dict[str, str], expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ=environ)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert message.startswith(str(path)) or message.startswith("environment")


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(tmp_path / "nope.toml", environ={})


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"SWITCHBOARD_DATABASE__URLL": "x"},
            "environment variable SWITCHBOARD_DATABASE__URLL ([database] urll): unknown key",
        ),
        ({"SWITCHBOARD_SERVER__PORT": "eighty"}, "environment variable SWITCHBOARD_SERVER__PORT ([server] port):"),
        (
            {"SWITCHBOARD_DELIVERY__BREAKER": '{"failurs": 1}'},
            "environment variable SWITCHBOARD_DELIVERY__BREAKER ([delivery] breaker.failurs): unknown key",
        ),
        (
            {"SWITCHBOARD_AUTH__SECRET_KEY": "${NOT_SET_ANYWHERE}"},
            "environment variable SWITCHBOARD_AUTH__SECRET_KEY ([auth] secret_key): environment variable "
            "NOT_SET_ANYWHERE is not set",
        ),
        (
            {"SWITCHBOARD_PLUGINS__HTTP__ENABLED": "maybe"},
            "environment variable SWITCHBOARD_PLUGINS__HTTP__ENABLED ([plugins.http]) 'enabled' must be",
        ),
    ],
)
def test_a_bad_environment_override_is_named_by_its_variable(
    tmp_path: Path, environ: dict[str, str], expected: str
) -> None:
    path = write(tmp_path, "[server]\nport = 8001\n[delivery.breaker]\nfailures = 3\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ=environ)
    assert str(info.value) == expected or str(info.value).startswith(expected)
    assert str(path) not in str(info.value)


def test_a_bad_key_in_the_file_is_still_named_by_the_file_when_an_override_sets_its_neighbour(tmp_path: Path) -> None:
    path = write(tmp_path, "[delivery.breaker]\ncooldown = -1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={"SWITCHBOARD_DELIVERY__BREAKER": '{"failures": 1}'})
    assert str(info.value).startswith(f"{path}: [delivery] breaker.cooldown:")


def test_an_empty_secret_is_refused_like_a_missing_one(tmp_path: Path) -> None:
    path = write(tmp_path, '[auth]\nsecret_key = "${SB_EMPTY_KEY}"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={"SB_EMPTY_KEY": ""})
    assert str(info.value) == f"{path}: [auth] secret_key: environment variable SB_EMPTY_KEY is empty"


def test_an_empty_secret_with_a_default_takes_the_default(tmp_path: Path) -> None:
    path = write(tmp_path, '[queue]\nredis_url = "${SB_REDIS:-redis://127.0.0.1:6379/3}"\n')
    assert load_settings(path, environ={"SB_REDIS": ""}).queue.redis_url.endswith("/3")
