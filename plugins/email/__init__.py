"""The ``email`` plugin: e-mail feedback in, replies out.

Inbound, ``/webhooks/email`` takes a mail provider's inbound-parse posts (signed Mailgun's way)
as messages of kind ``email``, threaded into conversations by ``In-Reply-To``/``References``.
Outbound, the destination ``email`` sends the conversation API's replies over SMTP
(``gateway.mail``) as replies in the thread. See docs/email.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import MetaData

from core import Adapter, Destination, Gateway, StandardMessage, Stored, hookimpl
from plugins.email import privacy, threads
from plugins.email.adapter import NAME, EmailAdapter
from plugins.email.destination import EmailDestination
from plugins.email.models import metadata
from plugins.email.settings import EmailSettings

# The plugin API versions this plugin is written against (docs/plugins.md, "Versions and compatibility").
SWITCHBOARD_API = ">=1.2,<2"


@hookimpl
def switchboard_settings(config: Mapping[str, Any]) -> EmailSettings:
    return EmailSettings.model_validate(dict(config))


@hookimpl
def switchboard_models() -> list[MetaData]:
    return [metadata]


@hookimpl
def switchboard_adapters(gateway: Gateway) -> list[Adapter]:
    return [EmailAdapter(gateway)]


@hookimpl
def switchboard_destinations(gateway: Gateway) -> list[Destination]:
    return [EmailDestination(gateway, gateway.plugin_config(NAME))]


@hookimpl
async def switchboard_messages_stored(stored: Sequence[tuple[StandardMessage, Stored]], gateway: Gateway) -> None:
    """Each new inbound e-mail joins its thread (what the next reply will answer)."""
    inbound = [m for m, _ in stored if m.platform == NAME and m.direction == "in" and m.conversation_key]
    if not inbound:
        return
    async with gateway.db.transaction() as conn:
        for m in inbound:
            assert m.conversation_key is not None
            await threads.record(
                conn,
                m.conversation_key,
                str(m.extra["message_id"]),
                subject=str(m.extra.get("subject") or ""),
                refs=[*m.extra.get("references", []), *m.extra.get("in_reply_to", [])],
                reply_to=m.sender,
            )


@hookimpl
async def switchboard_erase_participant(participant: str, gateway: Gateway) -> dict[str, int]:
    return await privacy.erase_participant(gateway, participant)


@hookimpl
async def switchboard_export_participant(participant: str, gateway: Gateway) -> dict[str, list[dict[str, Any]]]:
    return await privacy.export_participant(gateway, participant)
