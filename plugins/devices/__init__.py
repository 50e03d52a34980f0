"""The ``devices`` plugin: health devices upload readings with their own API keys.

Inbound, the adapter ``devices`` (``/webhooks/devices``) takes batches of readings, checks
each, stores them in canonical units and hands each to the core as a message of kind
``reading``; readings that cross an alert rule also become messages of kind ``alert``.
Routes under ``/plugins/devices`` register devices and serve readings, summaries, alerts and
rules; a cron job marks silent devices. The console's "Devices and alerts" page is admin.py.
See docs/devices.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import MetaData
from starlette.routing import BaseRoute

from core import Adapter, AdminPage, Gateway, PermissionInfo, hookimpl
from plugins.devices import admin, privacy
from plugins.devices.adapter import DevicesAdapter
from plugins.devices.jobs import silent_job
from plugins.devices.models import metadata
from plugins.devices.routes import devices_routes
from plugins.devices.settings import DevicesSettings

# The plugin API versions this plugin is written against (docs/plugins.md, "Versions and compatibility").
SWITCHBOARD_API = ">=1.2,<2"


@hookimpl
def switchboard_settings(config: Mapping[str, Any]) -> DevicesSettings:
    return DevicesSettings.model_validate(dict(config))


@hookimpl
def switchboard_adapters(gateway: Gateway) -> list[Adapter]:
    return [DevicesAdapter(gateway)]


@hookimpl
def switchboard_models() -> list[MetaData]:
    return [metadata]


@hookimpl
def switchboard_permissions() -> list[PermissionInfo]:
    return [
        PermissionInfo("devices.read", "See devices, their readings (personal content) and alerts", "viewer"),
        PermissionInfo("devices.manage", "Register, change, deactivate and reactivate devices, rotate keys, acknowledge alerts", "operator"),
        PermissionInfo("devices.delete", "Delete a device and its readings", "admin"),
        PermissionInfo("devices.rules", "Define the alert rules", "admin"),
    ]


@hookimpl
def switchboard_routes() -> list[BaseRoute]:
    return devices_routes()


@hookimpl
def switchboard_jobs(gateway: Gateway) -> list[Any]:
    return [silent_job(gateway.plugin_config("devices"))]


@hookimpl
def switchboard_admin_pages() -> list[AdminPage]:
    return [admin.admin_page()]


@hookimpl
async def switchboard_erase_participant(participant: str, gateway: Gateway) -> dict[str, int]:
    return await privacy.erase_participant(gateway, participant)


@hookimpl
async def switchboard_export_participant(participant: str, gateway: Gateway) -> dict[str, list[dict[str, Any]]]:
    return await privacy.export_participant(gateway, participant)
