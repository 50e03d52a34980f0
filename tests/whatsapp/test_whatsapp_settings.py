"""``[plugins.whatsapp]``: defaults that start, secrets from the environment, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core import ConfigError
from core.testing import make_settings, plugin_settings
from plugins.whatsapp.settings import WhatsAppSettings


def whatsapp(tmp_path: Path, **table: Any) -> WhatsAppSettings:
    return plugin_settings(make_settings(tmp_path, plugins={"whatsapp": table}), "whatsapp")  # type: ignore[no-any-return]


def test_an_unconfigured_plugin_loads_with_safe_defaults(tmp_path: Path) -> None:
    settings = plugin_settings(make_settings(tmp_path), "whatsapp")
    assert (settings.verify_token, settings.app_secret, settings.access_token) == (None, [], None)
    assert settings.graph_base_url == "https://graph.facebook.com"
    assert settings.messages_url("123") == "https://graph.facebook.com/v24.0/123/messages"
    assert (settings.acknowledgement.enabled, settings.media.download, settings.mark_read) == (False, False, False)
    assert settings.opt_out.keywords == ["STOP", "UNSUBSCRIBE"]
    assert settings.opt_out.opt_in_keywords == ["START"]


def test_app_secret_is_a_string_or_a_list_for_rotation(tmp_path: Path) -> None:
    assert whatsapp(tmp_path, app_secret="one").app_secret == ["one"]
    assert whatsapp(tmp_path, app_secret=["new", "old"]).app_secret == ["new", "old"]


def test_secrets_come_from_the_environment_and_are_masked(tmp_path: Path) -> None:
    environ = {"WA_APP_SECRET": "s3cr3t-from-env", "WA_TOKEN": "EAAG-from-env", "WA_VERIFY": "verify-from-env"}
    table = {"app_secret": "${WA_APP_SECRET}", "access_token": "${WA_TOKEN}", "verify_token": "${WA_VERIFY}"}
    settings = make_settings(tmp_path, plugins={"whatsapp": table}, environ=environ)
    resolved = plugin_settings(settings, "whatsapp")
    assert (resolved.app_secret, resolved.access_token) == (["s3cr3t-from-env"], "EAAG-from-env")
    shown = json.dumps(settings.masked())
    assert all(secret not in shown for secret in environ.values())


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"app_secret": ""}, "app_secret"),
        ({"api_version": "24"}, "api_version"),
        ({"graph_base_url": "graph.facebook.com"}, "graph_base_url"),
        ({"phone_number_id": "+255 700"}, "phone_number_id"),
        ({"acess_token": "typo"}, "acess_token: unknown key"),
        ({"acknowledgement": {"enabled": True}}, "needs text or template"),
        ({"acknowledgement": {"text": "Hi {first_name}"}}, "unknown placeholder {first_name}"),
        ({"acknowledgement": {"text": "x", "template": {"name": "t"}}}, "either text or template"),
        ({"opt_out": {"keywords": ["STOP"], "opt_in_keywords": ["stop"]}}, "both an opt-out and an opt-in keyword"),
        ({"media": {"max_bytes": 0}}, "media.max_bytes"),
    ],
    ids=[
        "empty-secret",
        "bad-version",
        "url-without-scheme",
        "number-id-not-digits",
        "misspelt-key",
        "ack-without-body",
        "unknown-placeholder",
        "two-ack-bodies",
        "keyword-in-both-lists",
        "zero-media-limit",
    ],
)
def test_a_wrong_setting_stops_start_up_with_one_line_naming_it(tmp_path: Path, table: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        whatsapp(tmp_path, **table)
    text = str(caught.value)
    assert "[plugins.whatsapp]" in text
    assert message in text
    assert "\n" not in text
