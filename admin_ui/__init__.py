"""Admin UI (Jinja2 + HTMX): the operators' console at ``/admin``, registered as the plugin ``admin``.

It talks to core's services (``core.operations``, ``core.auth``) and collects other plugins'
pages through ``switchboard_admin_pages``; it never imports a plugin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from admin_ui.settings import AdminSettings
from core import at_root, hookimpl

# The plugin API versions this plugin is written against (docs/plugins.md, "Versions and compatibility").
SWITCHBOARD_API = ">=1.0,<2"

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from core.gateway import Gateway

NAME = "admin"


@hookimpl
def switchboard_settings(config: Mapping[str, Any]) -> AdminSettings:
    return AdminSettings.model_validate(dict(config))


@hookimpl
def switchboard_routes(gateway: Gateway) -> Sequence[BaseRoute]:
    from admin_ui.console import Console
    from admin_ui.views import console_routes

    settings = gateway.plugin_config(NAME)
    console = Console(gateway, settings if isinstance(settings, AdminSettings) else AdminSettings())
    return [at_root([console.mount(console_routes())])]
