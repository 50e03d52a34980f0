"""Erasing personal data: one person on request, or messages past their retention (docs/privacy.md).

A message is *erased* by keeping its row without its content: platform, kind, direction, times,
its conversation and its deliveries' states, attempts and status codes stay, so counts,
dashboards and rollups still add up; text, raw payload, ``extra``, media, sender, sender name
and recipient go, and so do its deliveries' response details, errors and response excerpts.
Plugins erase what they keep about the same messages (``switchboard_erase_messages``) and about
the person (``switchboard_erase_participant``) first: if one fails, nothing of the core is
erased yet and the erasure can simply be run again.

A person is found through ``gateway.privacy.match`` only, so the same erasure works on
identifiers stored as keyed hashes.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from core.auth.events import record_event
from core.errors import Unprocessable
from core.operations.repair import cancel_rows
from core.storage.db import among
from core.storage.models import conversations, deliveries, delivery_attempts, messages, privacy_requests

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection
    from starlette.requests import Request

    from core.auth.permissions import Principal
    from core.gateway import Gateway

# Messages erased in one transaction (a person's 10,000 messages in two).
CHUNK = 5000
# The reason a waiting delivery of an erased person is cancelled with (its ``last_error``).
ERASED = "erased"
# A conversation keeps its row; its participant becomes this prefix and the conversation's id.
ERASED_PARTICIPANT = "erased:"


def checked_participant(value: Any) -> str:
    """The participant of a request, stripped; 422 when it is missing, empty or not a string."""
    if not isinstance(value, str) or not value.strip():
        raise Unprocessable(
            "say whose data: a phone number, e-mail address or device subject",
            errors=[{"field": "participant", "message": "required, a non-empty string"}],
        )
    participant = value.strip()
    if "\x00" in participant or not any(c.isprintable() and not c.isspace() for c in participant):
        # No identifier is stored with a NUL (core.storage.storable), nor made of control characters only.
        raise Unprocessable(
            "not a participant: a phone number, e-mail address or device subject has printable characters and no NUL",
            errors=[{"field": "participant", "message": "no NUL, and at least one printable character"}],
        )
    if len(participant) > 255:
        raise Unprocessable(
            "participant too long", errors=[{"field": "participant", "message": "at most 255 characters"}]
        )
    return participant


def _chunks(ids: Sequence[uuid.UUID]) -> list[Sequence[uuid.UUID]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def _add(counts: Counter[str], answers: Sequence[Mapping[str, int]]) -> None:
    for answer in answers:
        for table, n in answer.items():
            counts[table] += int(n)


async def erase_message_content(
    gateway: Gateway, conn: AsyncConnection, ids: Sequence[uuid.UUID], reason: str
) -> Counter[str]:
    """Erase the content of these messages and of their deliveries (rows kept); rows changed per table.

    Rows already erased are not counted again, so a repeated erasure answers zero.
    """
    counts: Counter[str] = Counter()
    if not ids:
        return counts
    # The deliveries' ids first: an attempt is then found through its own index, where a
    # sub-select made PostgreSQL hash-join every attempt of a million-row table.
    delivery_ids = list(
        (await conn.execute(sa.select(deliveries.c.id).where(among(deliveries.c.message_id, ids)))).scalars()
    )
    kept = sa.case((deliveries.c.last_error == ERASED, ERASED), else_=None)
    result = await conn.execute(
        sa.update(deliveries)
        .where(
            among(deliveries.c.id, delivery_ids),
            sa.or_(
                deliveries.c.detail.is_not(None),
                sa.and_(deliveries.c.last_error.is_not(None), deliveries.c.last_error != ERASED),
            ),
        )
        .values(detail=None, last_error=kept)
    )
    counts["deliveries"] += int(result.rowcount or 0)
    result = await conn.execute(
        sa.update(delivery_attempts)
        .where(
            among(delivery_attempts.c.delivery_id, delivery_ids),
            sa.or_(
                delivery_attempts.c.detail.is_not(None),
                delivery_attempts.c.error.is_not(None),
                delivery_attempts.c.response_excerpt.is_not(None),
                delivery_attempts.c.request.is_not(None),
                delivery_attempts.c.response.is_not(None),
            ),
        )
        .values(detail=None, error=None, response_excerpt=None, request=None, response=None)
    )
    counts["delivery_attempts"] += int(result.rowcount or 0)
    result = await conn.execute(
        sa.update(messages)
        .where(
            among(messages.c.id, ids),
            sa.or_(
                messages.c.sender.is_not(None),
                messages.c.recipient.is_not(None),
                messages.c.sender_name.is_not(None),
                messages.c.text.is_not(None),
                messages.c.raw.is_not(None),
            ),
        )
        .values(sender=None, sender_name=None, recipient=None, text=None, raw=None, media=[], extra={"erased": reason})
    )
    counts["messages"] += int(result.rowcount or 0)
    return counts


async def erase_conversations(conn: AsyncConnection, where: sa.ColumnElement[bool]) -> int:
    """Anonymise the conversations ``where`` picks: participant and state go, and each is closed."""
    now = datetime.now(UTC)
    result = await conn.execute(
        sa.update(conversations)
        .where(where, sa.not_(conversations.c.participant.startswith(ERASED_PARTICIPANT, autoescape=True)))
        .values(
            participant=sa.literal(ERASED_PARTICIPANT) + sa.cast(conversations.c.id, sa.String),
            state={},
            status="closed",
            closed_at=sa.func.coalesce(conversations.c.closed_at, now),
        )
    )
    return int(result.rowcount or 0)


async def erase_messages(gateway: Gateway, ids: Sequence[uuid.UUID], reason: str) -> Counter[str]:
    """Erase these messages' content, the plugins' first (``switchboard_erase_messages``), in chunks."""
    counts: Counter[str] = Counter()
    for chunk in _chunks(ids):
        _add(counts, await gateway.plugins.answers("switchboard_erase_messages", message_ids=chunk, gateway=gateway))
        async with gateway.db.transaction() as conn:
            counts.update(await erase_message_content(gateway, conn, chunk, reason))
    return counts


async def participant_message_ids(gateway: Gateway, participant: str) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """The ids of the person's conversations, and of every message they sent or received or in those."""
    match = gateway.privacy.match
    async with gateway.db.transaction() as conn:
        conversation_ids = list(
            (await conn.execute(sa.select(conversations.c.id).where(match(conversations.c.participant, participant))))
            .scalars()
        )
        wheres = [match(messages.c.sender, participant), match(messages.c.recipient, participant)]
        found: set[uuid.UUID] = set()
        for where in wheres:
            found.update((await conn.execute(sa.select(messages.c.id).where(where))).scalars())
        for chunk in _chunks(conversation_ids):
            found.update(
                (await conn.execute(sa.select(messages.c.id).where(among(messages.c.conversation_id, chunk)))).scalars()
            )
    return conversation_ids, sorted(found)


async def erase_participant(
    gateway: Gateway,
    participant: str,
    principal: Principal | None = None,
    *,
    request: Request | None = None,
    actor: str = "system",
) -> dict[str, Any]:
    """Erase everything held about ``participant``, in the core and every plugin; what was erased, per table.

    Waiting deliveries of the person's messages are cancelled first (reason ``erased``), so no
    attempt sends their content while it is being erased. Idempotent: a second erasure of the
    same person finds nothing left and answers zeros.
    """
    participant = checked_participant(participant)
    started = datetime.now(UTC)
    conversation_ids, message_ids = await participant_message_ids(gateway, participant)
    cancelled = 0
    for chunk in _chunks(message_ids):
        async with gateway.db.transaction() as conn:
            cancelled += len(await cancel_rows(conn, among(deliveries.c.message_id, chunk), reason=ERASED))
    counts = await erase_messages(gateway, message_ids, "erasure")
    _add(counts, await gateway.plugins.answers("switchboard_erase_participant", participant=participant, gateway=gateway))
    for chunk in _chunks(conversation_ids):
        async with gateway.db.transaction() as conn:
            counts["conversations"] += await erase_conversations(conn, among(conversations.c.id, chunk))
    tables = {table: n for table, n in sorted(counts.items())}
    request_id = uuid.uuid4()
    async with gateway.db.transaction() as conn:
        await conn.execute(
            sa.insert(privacy_requests).values(
                id=request_id,
                kind="erasure",
                status="done",
                requested_by=principal.label if principal else actor,
                created_at=started,
                completed_at=datetime.now(UTC),
                counts={"tables": tables, "cancelled_deliveries": cancelled},
            )
        )
    answer = {"id": str(request_id), "tables": tables, "cancelled_deliveries": cancelled, "total": sum(tables.values())}
    # The audit log says that an erasure happened and what it changed, never whom it was about.
    record_event(
        gateway,
        "participant_erased",
        request=request,
        actor=None if request is not None else (principal.label if principal else actor),
        actor_type=None if request is not None else (principal.kind if principal else "system"),
        status=200 if request is not None else None,
        erasure=str(request_id),
        tables=tables,
        cancelled_deliveries=cancelled,
    )
    return answer
