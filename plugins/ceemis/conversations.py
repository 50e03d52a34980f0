"""Conversations that become CEEMIS cases (``[plugins.ceemis.conversations.<platform>]``).

A message of such a platform routed to ``ceemis`` is sent as a helpline case would be: the
first message of its conversation as the case's create, each later one as an update of it.
Which one a message is gets decided once, when it is recorded (``store.record_turn``), in the
order the gateway stored the messages; the destination then sends creates and updates in order
exactly as it does the helpline's.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from core import StandardMessage
from plugins.ceemis.payloads import CREATE, UPDATE
from plugins.ceemis.settings import ConversationSettings


def case_uid(platform: str, conversation_id: uuid.UUID) -> str:
    """The case's ``src_uid``: its platform and the gateway's conversation (a reference of the case)."""
    return f"{platform}:{conversation_id}"


def _narrative(message: StandardMessage) -> str:
    if message.text and message.text.strip():
        return message.text
    caption = next((m.get("caption") for m in message.media if m.get("caption")), None)
    return str(caption) if caption else f"({message.kind} message)"


def _callid(message: StandardMessage) -> str:
    key = f"{message.platform}:{message.external_id}"
    return key if len(key) <= 255 else f"{message.platform}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def as_create(message: StandardMessage, conversation_id: uuid.UUID, settings: ConversationSettings) -> StandardMessage:
    """The case create ``message`` is when it opens its conversation's case (same message id)."""
    uid = case_uid(message.platform, conversation_id)
    client: dict[str, Any] = {"fname": message.sender_name, "phone": message.sender}
    narrative = _narrative(message)
    body = {
        "src": message.platform,
        "src_uid": uid,
        "src_callid": _callid(message),
        "narrative": narrative,
        "case_category": settings.case_category,
        "clients_case": [{k: v for k, v in client.items() if v}],
    }
    return StandardMessage(
        id=message.id,
        platform=message.platform,
        external_id=f"conversation:{uid}",
        kind=CREATE,
        sender=message.sender,
        sender_name=message.sender_name,
        text=narrative,
        # When it was recorded: the order a conversation's messages are sent in.
        timestamp=datetime.now(UTC),
        raw=body,
        extra={
            "ceemis": {"action": "create", "src": message.platform, "src_uid": uid, "src_callid": body["src_callid"]}
        },
    )


def as_update(message: StandardMessage, conversation_id: uuid.UUID, settings: ConversationSettings) -> StandardMessage:
    """The case update ``message`` is when its conversation's case exists already (same message id)."""
    uid = case_uid(message.platform, conversation_id)
    body: dict[str, Any] = {"ref": uid, "narrative": _narrative(message)}
    if settings.status:
        body["status"] = settings.status
    return StandardMessage(
        id=message.id,
        platform=message.platform,
        external_id=f"conversation-update:{message.id}",
        kind=UPDATE,
        sender=message.sender,
        text=body["narrative"],
        timestamp=datetime.now(UTC),
        raw=body,
        extra={"ceemis": {"action": "update", "ref": uid, "status": settings.status}},
    )


# Kinds that are about messages rather than said in the conversation (delivery receipts).
NOT_SAID = frozenset({"status"})


def takes_kind(settings: ConversationSettings | None, kind: str | None) -> bool:
    """Whether messages of ``kind`` become (part of) a case under ``settings`` (``None``: every kind: never)."""
    if settings is None or kind is None or kind in NOT_SAID:
        return False
    return settings.kinds is None or kind in settings.kinds


def takes(settings: ConversationSettings | None, message: StandardMessage) -> bool:
    """Whether ``message`` becomes (part of) a case under ``settings``."""
    return message.direction == "in" and takes_kind(settings, message.kind)
