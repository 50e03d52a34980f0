"""The ``http`` plugin: forward messages to any HTTP endpoint.

Each ``[plugins.http.destinations.<name>]`` table defines a destination called ``<name>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core import Destination, Gateway, hookimpl
from plugins.http.destination import HTTPDestination
from plugins.http.settings import HTTPPluginSettings

# The plugin API versions this plugin is written against (docs/plugins.md, "Versions and compatibility").
SWITCHBOARD_API = ">=1.0,<2"


@hookimpl
def switchboard_settings(config: Mapping[str, Any]) -> HTTPPluginSettings:
    return HTTPPluginSettings.model_validate(dict(config))


@hookimpl
def switchboard_destinations(gateway: Gateway) -> list[Destination]:
    settings: HTTPPluginSettings = gateway.plugin_config("http")
    return [HTTPDestination(name, table, gateway) for name, table in settings.destinations.items()]
