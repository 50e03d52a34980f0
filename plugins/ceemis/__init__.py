"""The ``ceemis`` plugin: helpline cases to CEEMIS, and cases made in CEEMIS and EEMIS back.

Inbound, ``/webhooks/helpline`` takes the helpline's case creates and updates, and
``/webhooks/ceemis`` and ``/webhooks/eemis`` the cases created there (routed by ``[[routes]]``).
Outbound, the destination ``ceemis`` sends creates and updates as CEEMIS's multipart forms, in
order per case. ``/plugins/ceemis/cases/{reference}`` tells what became of a case, and the
console's ``/admin/ceemis/cases`` shows it with its deliveries. See docs/ceemis.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import MetaData
from starlette.routing import BaseRoute

from core import Adapter, AdminPage, Destination, Gateway, StandardMessage, Stored, hookimpl
from plugins.ceemis import admin, conversations, privacy, store
from plugins.ceemis.adapter import CEEMISAdapter, EEMISAdapter, HelplineAdapter
from plugins.ceemis.cfcbe import cfcbe_routes
from plugins.ceemis.destination import NAME, CEEMISDestination
from plugins.ceemis.models import metadata
from plugins.ceemis.routes import ceemis_routes
from plugins.ceemis.settings import CEEMISSettings

# The plugin API versions this plugin is written against (docs/plugins.md, "Versions and compatibility").
SWITCHBOARD_API = ">=1.2,<2"


@hookimpl
def switchboard_settings(config: Mapping[str, Any]) -> CEEMISSettings:
    return CEEMISSettings.model_validate(dict(config))


@hookimpl
def switchboard_models() -> list[MetaData]:
    return [metadata]


@hookimpl
def switchboard_adapters(gateway: Gateway) -> list[Adapter]:
    settings: CEEMISSettings = gateway.plugin_config("ceemis")
    return [HelplineAdapter(gateway, settings), CEEMISAdapter(gateway, settings), EEMISAdapter(gateway, settings)]


@hookimpl
def switchboard_destinations(gateway: Gateway) -> list[Destination]:
    settings: CEEMISSettings = gateway.plugin_config("ceemis")
    if settings.create_url is None and settings.update_url is None:
        return []
    return [CEEMISDestination(gateway, settings)]


@hookimpl
def switchboard_routes(gateway: Gateway) -> list[BaseRoute]:
    settings: CEEMISSettings = gateway.plugin_config("ceemis")
    return [*ceemis_routes(), *cfcbe_routes(settings.cfcbe)]


@hookimpl
def switchboard_admin_pages() -> list[AdminPage]:
    return [admin.admin_page()]


@hookimpl
async def switchboard_messages_stored(stored: Sequence[tuple[StandardMessage, Stored]], gateway: Gateway) -> None:
    """Cases and updates routed to ``ceemis`` are queued (the rest stay received); messages of
    conversations routed to ``ceemis`` are recorded, in the order stored, as their case's create
    (the first of a conversation) or as updates of it."""
    settings: CEEMISSettings = gateway.plugin_config("ceemis")
    ids = [s.message_id for m, s in stored if NAME in s.destinations and store.is_helpline_case(m)]
    turns = [
        (m, s.conversation_id)
        for m, s in stored
        if NAME in s.destinations
        and s.conversation_id is not None
        and conversations.takes(settings.conversations.get(m.platform), m)
    ]
    if ids or turns:
        async with gateway.db.transaction() as conn:
            if ids:
                await store.routed(conn, ids)
            for message, conversation_id in turns:
                assert conversation_id is not None
                await store.record_turn(conn, message, conversation_id, settings.conversations[message.platform])


@hookimpl
async def switchboard_erase_messages(message_ids: Sequence[uuid.UUID], gateway: Gateway) -> dict[str, int]:
    return await privacy.erase_messages(gateway, message_ids)


@hookimpl
async def switchboard_export_participant(
    message_ids: Sequence[uuid.UUID], gateway: Gateway
) -> dict[str, list[dict[str, Any]]]:
    return await privacy.export_participant(gateway, message_ids)
