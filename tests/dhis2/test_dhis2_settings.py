"""[plugins.dhis2]: instances, credentials, defaults and templates are checked at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core import ConfigError
from core.testing import make_settings, plugin_settings
from plugins.dhis2.client import DHIS2Client
from plugins.dhis2.settings import DHIS2Settings

TOKEN = "d2pat_0123456789abcdefghijklmnopqrstuvwxyz01234567"


def dhis2_settings(tmp_path: Path, **table: Any) -> DHIS2Settings:
    """``[plugins.dhis2]`` = ``table``, validated as at start-up."""
    return plugin_settings(make_settings(tmp_path, plugins={"dhis2": table}), "dhis2")  # type: ignore[no-any-return]


def test_an_instance_with_a_token_is_accepted_and_becomes_the_default(tmp_path: Path) -> None:
    settings = dhis2_settings(
        tmp_path, instances={"national": {"base_url": "https://dhis2.example.org", "token": TOKEN}}
    )
    assert settings.default_instance_name == "national"
    assert settings.unmapped == "reject" and settings.chunk_size == 1000


def test_an_instance_without_credentials_stops_start_up_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[plugins.dhis2\] instances.national.*credentials are missing"):
        dhis2_settings(tmp_path, instances={"national": {"base_url": "https://dhis2.example.org"}})


def test_token_and_password_together_are_refused(tmp_path: Path) -> None:
    instance = {"base_url": "https://d.example.org", "token": TOKEN, "username": "a", "password": "b"}
    with pytest.raises(ConfigError, match="either token or username and password"):
        dhis2_settings(tmp_path, instances={"national": instance})


def test_the_default_instance_must_be_configured(tmp_path: Path) -> None:
    instances = {"national": {"base_url": "https://d.example.org", "token": TOKEN}}
    with pytest.raises(ConfigError, match="default_instance 'district' is not one of"):
        dhis2_settings(tmp_path, instances=instances, default_instance="district")


def test_unknown_keys_and_bad_values_are_refused(tmp_path: Path) -> None:
    instance = {"base_url": "https://d.example.org", "token": TOKEN}
    with pytest.raises(ConfigError, match="unknown key"):
        dhis2_settings(tmp_path, instances={"national": instance}, unmaped="skip")
    with pytest.raises(ConfigError, match="id_scheme"):
        dhis2_settings(tmp_path, instances={"national": {**instance, "id_scheme": "SHORTNAME"}})
    with pytest.raises(ConfigError, match="unmapped"):
        dhis2_settings(tmp_path, instances={"national": instance}, unmapped="ignore")


def test_two_templates_for_the_same_messages_are_refused(tmp_path: Path) -> None:
    instances = {"national": {"base_url": "https://d.example.org", "token": TOKEN}}
    templates = {
        "a": {"source": "webform", "kinds": ["form"], "type": "tracker", "body": "{}"},
        "b": {"source": "webform", "type": "aggregate", "body": "{}"},
    }
    with pytest.raises(ConfigError, match="templates 'a' and 'b' both match 'webform'"):
        dhis2_settings(tmp_path, instances=instances, templates=templates)


def test_a_template_that_does_not_compile_is_refused(tmp_path: Path) -> None:
    instances = {"national": {"base_url": "https://d.example.org", "token": TOKEN}}
    templates = {"a": {"source": "webform", "type": "tracker", "body": "{{ message.text "}}
    with pytest.raises(ConfigError, match="template line 1"):
        dhis2_settings(tmp_path, instances=instances, templates=templates)


def test_requests_carry_the_personal_access_token_or_basic_credentials() -> None:
    settings = DHIS2Settings.model_validate(
        {
            "instances": {
                "pat": {"base_url": "https://d.example.org/dhis/", "token": TOKEN, "api_version": 40},
                "basic": {"base_url": "https://d.example.org", "username": "admin", "password": "district"},
            }
        }
    )
    pat = DHIS2Client("pat", settings.instances["pat"], gateway=None)  # type: ignore[arg-type]
    basic = DHIS2Client("basic", settings.instances["basic"], gateway=None)  # type: ignore[arg-type]
    assert pat.headers["Authorization"] == f"ApiToken {TOKEN}"
    assert pat.url("/dataValueSets") == "https://d.example.org/dhis/api/40/dataValueSets"
    assert basic.headers["Authorization"] == "Basic YWRtaW46ZGlzdHJpY3Q="
    assert basic.url("/system/info") == "https://d.example.org/api/system/info"


def test_secrets_come_from_the_environment_and_are_masked(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        plugins={"dhis2": {"instances": {"national": {"base_url": "https://d.example.org", "token": "${PAT}"}}}},
        environ={"PAT": TOKEN},
    )
    assert settings.plugins["dhis2"]["instances"]["national"]["token"] == TOKEN
    assert settings.masked()["plugins"]["dhis2"]["instances"]["national"]["token"] == "***"
