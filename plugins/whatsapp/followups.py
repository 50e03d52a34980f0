"""What follows once WhatsApp messages are stored: statuses applied, opt-outs recorded and
confirmed, new conversations acknowledged, messages marked read, media downloads queued.

Replies are standard outbound messages submitted to the ``whatsapp`` destination, so they
are stored, retried and audited like any other delivery. Their external ids derive from the
inbound message (``ack:<id>``, …): should this run twice for one message, the second
submission is a duplicate and nothing is sent twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from core import StandardMessage, Stored, mask_phone
from plugins.whatsapp import optout, statuses
from plugins.whatsapp.destination import NAME, NOTICE_OPTION
from plugins.whatsapp.inbound import PLATFORM
from plugins.whatsapp.media import DOWNLOAD_JOB
from plugins.whatsapp.models import media

if TYPE_CHECKING:
    from core import Gateway
    from plugins.whatsapp.settings import AcknowledgementSettings, WhatsAppSettings

log = logging.getLogger("switchboard.whatsapp")


async def after_stored(gateway: Gateway, stored: Sequence[tuple[StandardMessage, Stored]]) -> None:
    """React to newly stored inbound WhatsApp messages (the ``switchboard_messages_stored`` hook).

    Each step runs on its own: a failure in one (logged) does not cost the others, and an
    opt-out in particular is recorded whatever becomes of the statuses beside it.
    """
    mine = [(m, s) for m, s in stored if m.platform == PLATFORM and m.direction == "in"]
    if not mine:
        return
    settings: WhatsAppSettings = gateway.plugin_config(PLATFORM)
    found = [m for m, _ in mine if m.kind == "status"]
    people = [(m, s) for m, s in mine if m.kind != "status" and m.sender]
    if found:
        await _step("apply statuses", _apply_statuses(gateway, found))
    if people:
        await _step("answer messages", _answer(gateway, settings, people))
        if settings.media.download:
            await _step("queue media downloads", _queue_downloads(gateway, [m for m, _ in people if m.media]))


async def _step(what: str, work: Awaitable[None]) -> None:
    try:
        await work
    except Exception:
        log.exception("WhatsApp: could not %s", what)


async def _apply_statuses(gateway: Gateway, found: list[StandardMessage]) -> None:
    async with gateway.db.transaction() as conn:
        for status in found:
            await statuses.apply_status(conn, status)


async def _answer(gateway: Gateway, settings: WhatsAppSettings, people: list[tuple[StandardMessage, Stored]]) -> None:
    notices, replies = await _opt_outs_and_acks(gateway, settings, people)
    if settings.mark_read:
        replies += [_read_receipt(m) for m, _ in people if _readable(m)]
    if notices:
        await gateway.submit(notices, destinations=[NAME], options={NOTICE_OPTION: True})
    if replies:
        await gateway.submit(replies, destinations=[NAME])


async def _opt_outs_and_acks(
    gateway: Gateway, settings: WhatsAppSettings, people: list[tuple[StandardMessage, Stored]]
) -> tuple[list[StandardMessage], list[StandardMessage]]:
    notices: list[StandardMessage] = []
    acks: list[StandardMessage] = []
    ack = settings.acknowledgement
    async with gateway.db.transaction() as conn:
        for m, s in people:
            assert m.sender is not None
            choice = optout.keyword_choice(m, settings.opt_out)
            if choice is not None:
                if not await optout.record_choice(conn, m.sender, choice, (m.text or "")[:64], m.timestamp):
                    continue  # the contact has said otherwise since
                log.info("WhatsApp contact %s opted %s", mask_phone(m.sender), choice)
                text = settings.opt_out.confirmation if choice == "out" else settings.opt_out.opt_in_confirmation
                if text:
                    notices.append(_reply_to(m, f"opt-{choice}:{m.id}", {"type": "text", "text": {"body": text}}))
            elif ack.enabled and s.conversation_opened:
                acks.append(_acknowledgement(m, s, ack))
        if acks:
            out = await optout.states(conn, gateway.privacy, [a.recipient or "" for a in acks])
            acks = [a for a in acks if not (a.recipient in out and out[a.recipient].opted_out)]
    return notices, acks


def _acknowledgement(m: StandardMessage, s: Stored, ack: AcknowledgementSettings) -> StandardMessage:
    cid = s.conversation_id or uuid.UUID(int=0)
    values = {
        "name": m.sender_name or "",
        "wa_id": m.sender or "",
        "reference": cid.hex[-8:].upper(),
        "conversation_id": str(cid),
    }
    if ack.template is not None:
        spec: dict[str, Any] = {
            "type": "template",
            "template": {
                "name": ack.template.name,
                "language": ack.template.language,
                "parameters": [p.format_map(values) for p in ack.template.parameters],
            },
        }
    else:
        spec = {"type": "text", "text": {"body": (ack.text or "").format_map(values)}}
    return _reply_to(m, f"ack:{m.id}", spec)


def _read_receipt(m: StandardMessage) -> StandardMessage:
    return _reply_to(m, f"read:{m.id}", {"type": "read", "message_id": m.external_id}, kind="event")


def _reply_to(m: StandardMessage, external_id: str, spec: dict[str, Any], *, kind: str = "text") -> StandardMessage:
    """An outbound message to the sender of ``m``, from the business number that received it."""
    number = (m.extra.get("whatsapp") or {}).get("phone_number_id")
    text = (spec.get("text") or {}).get("body")
    return StandardMessage(
        platform=PLATFORM,
        external_id=external_id,
        kind=kind,
        direction="out",
        recipient=m.sender,
        text=text,
        extra={"whatsapp": spec | ({"phone_number_id": number} if number else {})},
    )


def _readable(m: StandardMessage) -> bool:
    """A message the contact wrote, with a wamid to mark read (not a notice, not an unread item)."""
    return m.kind not in ("system", "event") and not m.external_id.startswith(("unparsed:", "error:"))


async def _queue_downloads(gateway: Gateway, with_media: list[StandardMessage]) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "message_id": m.id,
            "media_id": item["id"],
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "mime_type": item.get("mime_type"),
            "created_at": now,
            "updated_at": now,
        }
        for m in with_media
        for item in m.media
        if isinstance(item.get("id"), str)
    ]
    if not rows:
        return
    async with gateway.db.transaction() as conn:
        known = {
            (r.message_id, r.media_id)
            for r in await conn.execute(
                sa.select(media.c.message_id, media.c.media_id).where(
                    media.c.message_id.in_({r["message_id"] for r in rows})
                )
            )
        }
        rows = [r for r in rows if (r["message_id"], r["media_id"]) not in known]
        if rows:
            await conn.execute(media.insert(), rows)
    for row in rows:
        try:
            await gateway.queue.enqueue_job(DOWNLOAD_JOB, str(row["message_id"]), row["media_id"])
        except Exception as err:  # noqa: BLE001 - the row is committed; the media sweep enqueues it later
            log.warning("could not enqueue a WhatsApp media download (%s); the sweep will", err)
