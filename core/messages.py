"""The standard message: what every adapter produces and every destination receives."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

KINDS = frozenset(
    {
        "text",
        "image",
        "audio",
        "video",
        "document",
        "sticker",
        "location",
        "contacts",
        "interactive",
        "reaction",
        "status",
        "form",
        "case",
        "case_update",
        "email",
        "reading",
        "alert",
        "data",
        "event",
        "order",
        "system",
        "unsupported",
    }
)

MEDIA_KEYS = frozenset({"id", "url", "mime_type", "sha256", "caption", "filename"})
# The fields that hold text when they are set.
_OPTIONAL_TEXT = ("sender", "sender_name", "recipient", "text", "conversation_key")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class StandardMessage:
    """One normalised message, inbound or outbound.

    ``platform``, ``external_id`` and ``kind`` are required. ``id`` is assigned by the core
    when the message is stored; ``conversation_key`` defaults to the sender. ``raw`` keeps the
    platform's original item so nothing is lost in normalisation. ``conversation_id`` is the stored
    message's conversation, filled in by the core for delivery.
    """

    platform: str
    external_id: str
    kind: str
    id: uuid.UUID | None = None
    direction: Literal["in", "out"] = "in"
    sender: str | None = None
    sender_name: str | None = None
    recipient: str | None = None
    text: str | None = None
    media: list[dict[str, Any]] = field(default_factory=list)
    timestamp: datetime = field(default_factory=utcnow)
    conversation_key: str | None = None
    raw: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The stored message's conversation, set by the core when a destination delivers it (so a
    # receiving system can reply to it); ignored when an adapter submits a message.
    conversation_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        platform, external_id, kind = self.platform, self.external_id, self.kind
        if not (isinstance(platform, str) and isinstance(external_id, str) and isinstance(kind, str)) or not (
            platform and external_id and kind
        ):
            for name in ("platform", "external_id", "kind"):
                value = getattr(self, name)
                if not isinstance(value, str) or not value:
                    raise ValueError(f"StandardMessage.{name} must be a non-empty string")
        if len(external_id) > 255:
            raise ValueError("StandardMessage.external_id is longer than 255 characters")
        if self.direction not in ("in", "out"):
            raise ValueError("StandardMessage.direction must be 'in' or 'out'")
        # An adapter often hands a payload's values on as they come: a number, a list or an
        # object where text belongs is refused here, naming the field (the webhook answers 400),
        # rather than failing in storage as a 500.
        for name in _OPTIONAL_TEXT:
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"StandardMessage.{name} must be a string or None, not {type(value).__name__}")
        if not isinstance(self.timestamp, datetime) or self.timestamp.tzinfo is None:
            raise ValueError("StandardMessage.timestamp must be a timezone-aware datetime")
        if not isinstance(self.media, list | tuple) or not all(isinstance(item, Mapping) for item in self.media):
            raise ValueError("StandardMessage.media must be a list of objects")
        # A tuple, or mappings other than dicts, were taken before these checks: kept working, as lists of dicts.
        if isinstance(self.media, tuple) or not all(type(item) is dict for item in self.media):
            self.media = [dict(item) for item in self.media]
        for item in self.media:
            unknown = set(item) - MEDIA_KEYS
            if unknown:
                raise ValueError(f"StandardMessage.media has unknown keys: {sorted(unknown)}")
        if isinstance(self.extra, Mapping) and not isinstance(self.extra, dict):
            self.extra = dict(self.extra)
        if not isinstance(self.extra, dict):
            raise ValueError(f"StandardMessage.extra must be an object, not {type(self.extra).__name__}")
        if self.conversation_key is None:
            self.conversation_key = self.sender if self.direction == "in" else self.recipient

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (ids and times as strings), as destinations usually send it."""
        # Field by field rather than dataclasses.asdict, which deep-copies through copy.deepcopy
        # (8 % of a worker's CPU); the containers are copied one level, as JSON needs no more.
        data = {name: getattr(self, name) for name in _FIELDS}
        data["id"] = str(self.id) if self.id else None
        data["conversation_id"] = str(self.conversation_id) if self.conversation_id else None
        data["timestamp"] = self.timestamp.isoformat()
        data["media"] = [dict(item) for item in self.media]
        data["extra"] = dict(self.extra)
        return data


_FIELDS = tuple(f.name for f in fields(StandardMessage))
