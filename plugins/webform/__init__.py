"""The ``webform`` plugin: public complaint and feedback forms embedded on organisations' sites.

A form user asks for a code (``/plugins/webform/auth/request-verification``), gets it by
e-mail, exchanges it for a short-lived form token (``/plugins/webform/auth/verify-otp``) and
posts the form with it to ``/webhooks/webform``: a message of kind ``form``, routed by
``[[routes]]``. Organisations come from ``[plugins.webform.organisations]`` and from the API
(``/plugins/webform/organisations``), which admins also manage in the console
(``/admin/webform/organisations``). See docs/webform.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import MetaData
from starlette.routing import BaseRoute

from core import Adapter, AdminPage, Gateway, PermissionInfo, StandardMessage, Stored, hookimpl
from plugins.webform import admin, notify, privacy
from plugins.webform.adapter import WebformAdapter
from plugins.webform.cfcbe import cfcbe_routes
from plugins.webform.models import metadata
from plugins.webform.routes import webform_routes
from plugins.webform.settings import WebformSettings

# The plugin API versions this plugin is written against (docs/plugins.md, "Versions and compatibility").
SWITCHBOARD_API = ">=1.2,<2"


@hookimpl
def switchboard_settings(config: Mapping[str, Any]) -> WebformSettings:
    return WebformSettings.model_validate(dict(config))


@hookimpl
def switchboard_models() -> list[MetaData]:
    return [metadata]


@hookimpl
def switchboard_adapters(gateway: Gateway) -> list[Adapter]:
    return [WebformAdapter(gateway)]


@hookimpl
def switchboard_permissions() -> list[PermissionInfo]:
    return [
        PermissionInfo("webform.manage", "Manage the web form's organisations", "admin"),
    ]


@hookimpl
def switchboard_routes(gateway: Gateway) -> list[BaseRoute]:
    settings: WebformSettings = gateway.plugin_config("webform")
    return [*webform_routes(), *cfcbe_routes(settings.cfcbe)]


@hookimpl
def switchboard_admin_pages() -> list[AdminPage]:
    return [admin.admin_page()]


@hookimpl
async def switchboard_messages_stored(stored: Sequence[tuple[StandardMessage, Stored]], gateway: Gateway) -> None:
    await notify.after_stored(gateway, stored)


@hookimpl
async def switchboard_erase_participant(participant: str, gateway: Gateway) -> dict[str, int]:
    return await privacy.erase_participant(gateway, participant)


@hookimpl
async def switchboard_export_participant(participant: str, gateway: Gateway) -> dict[str, list[dict[str, Any]]]:
    return await privacy.export_participant(gateway, participant)
