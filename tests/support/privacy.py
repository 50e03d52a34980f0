"""Rows of one person for the privacy tests: a conversation, messages, deliveries and attempts.

Written straight into the core tables, so a test decides each row's age (message ids are
uuid7: an old message has an old id) and each delivery's state.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core.gateway import Gateway
from core.storage.models import conversations, deliveries, delivery_attempts, messages


def id_at(at: datetime) -> uuid.UUID:
    """A uuid7 of the millisecond ``at`` (random below it)."""
    ms = int(at.timestamp() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 | 0b10 << 62 | rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


async def seed_person(
    gateway: Gateway,
    participant: str,
    *,
    count: int = 2,
    platform: str = "echo",
    days_ago: float = 0,
    status: str = "delivered",
    text: str | None = None,
) -> dict[str, list[uuid.UUID]]:
    """``count`` inbound messages of ``participant`` (and one reply to them) in one conversation,
    each with a delivery in ``status`` that has one attempt; their ids."""
    at = datetime.now(UTC) - timedelta(days=days_ago)
    conversation_id = id_at(at)
    ids: dict[str, list[uuid.UUID]] = {"messages": [], "deliveries": [], "conversations": [conversation_id]}
    async with gateway.db.transaction() as conn:
        await conn.execute(
            sa.insert(conversations).values(
                id=conversation_id,
                platform=platform,
                participant=participant,
                status="open",
                opened_at=at,
                last_message_at=at,
                message_count=count + 1,
                state={"step": "asked for " + participant},
            )
        )
        for i in range(count + 1):
            inbound = i < count
            message_id = id_at(at + timedelta(milliseconds=i))
            ids["messages"].append(message_id)
            await conn.execute(
                sa.insert(messages).values(
                    id=message_id,
                    platform=platform,
                    external_id=uuid.uuid4().hex,
                    direction="in" if inbound else "out",
                    kind="text",
                    sender=participant if inbound else None,
                    sender_name="Name of " + participant if inbound else None,
                    recipient=None if inbound else participant,
                    text=text or f"secret {i} of {participant}",
                    media=[{"id": "m1", "url": "https://example.org/m1"}],
                    timestamp=at,
                    conversation_id=conversation_id,
                    raw={"from": participant},
                    extra={"note": participant},
                    received_at=at,
                )
            )
            delivery_id = id_at(at + timedelta(milliseconds=i))
            ids["deliveries"].append(delivery_id)
            await conn.execute(
                sa.insert(deliveries).values(
                    id=delivery_id,
                    message_id=message_id,
                    destination="crm",
                    platform=platform,
                    status=status,
                    attempt_count=1,
                    max_attempts=5,
                    next_attempt_at=at + timedelta(days=30) if status in ("pending", "retrying") else None,
                    last_error=f"500 from crm about {participant}",
                    last_status_code=500,
                    detail={"echo": participant},
                    options={},
                    idempotency_key=uuid.uuid4().hex,
                    created_at=at,
                    updated_at=at,
                )
            )
            await conn.execute(
                sa.insert(delivery_attempts).values(
                    delivery_id=delivery_id,
                    number=1,
                    started_at=at,
                    duration_ms=3.0,
                    outcome="retry",
                    status_code=500,
                    error=f"error about {participant}",
                    response_excerpt=f"body naming {participant}",
                    detail={"sent": participant},
                    # What the attempt sent and got back, as the delivery engine records it.
                    request=[{"method": "POST", "url": "https://crm.example/cases", "body": {"text": participant}}],
                    response=[{"status": 500, "body": {"text": f"no case for {participant}"}}],
                )
            )
    return ids


async def rows_of(gateway: Gateway, table: sa.Table, *where: Any) -> list[Any]:
    async with gateway.db.transaction() as conn:
        return list(await conn.execute(sa.select(table).where(*where)))


async def dump_text(gateway: Gateway) -> str:
    """Every row of the core's message, conversation and delivery tables, as one text to search."""
    parts = []
    for table in (messages, conversations, deliveries, delivery_attempts):
        parts += [repr(tuple(r)) for r in await rows_of(gateway, table)]
    return "\n".join(parts)
