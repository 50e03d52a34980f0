"""The ``whatsapp`` plugin: Meta's WhatsApp Cloud API.

Inbound, the adapter ``whatsapp`` (``/webhooks/whatsapp``) verifies Meta's handshake and
signatures and turns every message and status into a standard message. Outbound, the
destination ``whatsapp`` sends replies through the Graph API. Around them: statuses applied
to sent messages, opt-out keywords, acknowledgements, read receipts and media downloads.
See docs/whatsapp.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import MetaData
from starlette.routing import BaseRoute

from core import Adapter, Destination, ExportFile, Gateway, PermissionInfo, StandardMessage, Stored, hookimpl
from plugins.whatsapp import followups, media, privacy
from plugins.whatsapp.adapter import WhatsAppAdapter
from plugins.whatsapp.cfcbe import cfcbe_routes
from plugins.whatsapp.destination import WhatsAppDestination
from plugins.whatsapp.models import metadata
from plugins.whatsapp.routes import whatsapp_routes
from plugins.whatsapp.settings import WhatsAppSettings

# The plugin API versions this plugin is written against (docs/plugins.md, "Versions and compatibility").
SWITCHBOARD_API = ">=1.4,<2"


@hookimpl
def switchboard_settings(config: Mapping[str, Any]) -> WhatsAppSettings:
    return WhatsAppSettings.model_validate(dict(config))


@hookimpl
def switchboard_adapters(gateway: Gateway) -> list[Adapter]:
    return [WhatsAppAdapter(gateway.plugin_config("whatsapp"))]


@hookimpl
def switchboard_destinations(gateway: Gateway) -> list[Destination]:
    return [WhatsAppDestination(gateway, gateway.plugin_config("whatsapp"))]


@hookimpl
def switchboard_models() -> list[MetaData]:
    return [metadata]


@hookimpl
def switchboard_jobs() -> list[Any]:
    return [media.whatsapp_download_media, media.SWEEP]


@hookimpl
def switchboard_permissions() -> list[PermissionInfo]:
    return [
        PermissionInfo("whatsapp.contacts", "Change a WhatsApp contact's details", "operator"),
    ]


@hookimpl
def switchboard_routes(gateway: Gateway) -> list[BaseRoute]:
    settings: WhatsAppSettings = gateway.plugin_config("whatsapp")
    return [*whatsapp_routes(), *cfcbe_routes(settings.cfcbe)]


@hookimpl
async def switchboard_messages_stored(stored: Sequence[tuple[StandardMessage, Stored]], gateway: Gateway) -> None:
    await followups.after_stored(gateway, stored)


@hookimpl
async def switchboard_erase_messages(message_ids: Sequence[uuid.UUID], gateway: Gateway) -> dict[str, int]:
    return await privacy.erase_messages(gateway, message_ids)


@hookimpl
async def switchboard_erase_participant(participant: str, gateway: Gateway) -> dict[str, int]:
    return await privacy.erase_participant(gateway, participant)


@hookimpl
async def switchboard_export_files(
    participant: str, message_ids: Sequence[uuid.UUID], gateway: Gateway
) -> list[ExportFile]:
    return await privacy.export_files(gateway, message_ids)


@hookimpl
async def switchboard_export_participant(
    participant: str, message_ids: Sequence[uuid.UUID], gateway: Gateway
) -> dict[str, list[dict[str, Any]]]:
    return await privacy.export_participant(gateway, participant, message_ids)
