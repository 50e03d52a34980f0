"""Conversations: replies go out on the platform they came in on."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from core.errors import Conflict, NotFound
from core.messages import StandardMessage
from core.storage.ids import uuid7
from core.storage.models import conversations

if TYPE_CHECKING:
    from core.auth.permissions import Principal
    from core.gateway import Gateway
    from core.pipeline.stored_hooks import Stored


async def reply(
    gateway: Gateway,
    conversation_id: uuid.UUID,
    *,
    kind: str = "text",
    text: str | None = None,
    media: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    principal: Principal | None = None,
) -> Stored:
    """Queue an outbound message to the conversation's participant, through the destination
    named like its platform (the WhatsApp plugin provides both an adapter and a destination
    called ``whatsapp``)."""
    async with gateway.db.transaction() as conn:
        row = (
            await conn.execute(
                sa.select(conversations.c.platform, conversations.c.participant).where(
                    conversations.c.id == conversation_id
                )
            )
        ).first()
    if row is None:
        raise NotFound("no such conversation")
    if row.platform not in gateway.destinations:
        raise Conflict(f"platform {row.platform!r} has no destination to send replies through")
    message = StandardMessage(
        platform=row.platform,
        external_id=f"out:{uuid7()}",
        kind=kind,
        direction="out",
        recipient=row.participant,
        text=text,
        media=media or [],
        extra={**(extra or {}), **({"sent_by": principal.label} if principal else {})},
    )
    [stored] = await gateway.submit([message], destinations=[row.platform])
    return stored
