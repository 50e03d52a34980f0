"""Cloud API webhook payloads → standard messages.

Only an unusable envelope (not JSON, not a ``whatsapp_business_account`` object, no ``entry``
list) is refused with 400. Inside it, every item that cannot be understood is kept as a
``kind="unsupported"`` message with its raw payload and the problem in
``extra["whatsapp"]["error"]``: Meta retries a refused POST with the same body, so refusing
it for one bad item would lose every good message beside it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core import BadRequest, StandardMessage, bounded_int, parse_json

PLATFORM = "whatsapp"
OBJECT = "whatsapp_business_account"
MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")
_MEDIA_FIELDS = ("id", "mime_type", "sha256", "caption", "filename")
_CONTEXT_FIELDS = ("id", "from", "forwarded", "frequently_forwarded", "referred_product")
# Meta's wamids run to about 80 characters and wa_ids to 15 digits; anything far longer is
# not Meta's, and must not reach columns sized for them.
MAX_WAMID = 200
MAX_WA_ID = 64


class Malformed(Exception):
    """One item of the payload does not have the documented shape."""


@dataclass(frozen=True)
class Change:
    """Where a ``messages`` change came from: the business account and number that received it."""

    waba_id: str | None
    phone_number_id: str | None
    display_phone_number: str | None
    names: dict[str, str]

    def annotated(self, details: dict[str, Any]) -> dict[str, Any]:
        base = {
            "waba_id": self.waba_id,
            "phone_number_id": self.phone_number_id,
            "display_phone_number": self.display_phone_number,
        }
        return {"whatsapp": {k: v for k, v in base.items() if v is not None} | details}

    def name_of(self, wa_id: str) -> str | None:
        if wa_id in self.names:
            return self.names[wa_id]
        # One contact per change is the norm; its wa_id may be formatted unlike "from".
        return next(iter(self.names.values())) if len(self.names) == 1 else None


def parse_webhook(body: bytes) -> list[StandardMessage]:
    """Every message, status and reported error of one webhook POST, in payload order."""
    # The core's reader: 400 on malformed JSON, nesting too deep and lone surrogates (which
    # would fail the insert, and Meta would retry the webhook for days).
    try:
        data = parse_json(body)
    except BadRequest as err:
        raise BadRequest(str(err), errors=[{"field": "(body)", "message": str(err)}]) from err
    if not isinstance(data, dict):
        raise BadRequest("expected a JSON object", errors=[{"field": "(body)", "message": "not an object"}])
    if data.get("object") != OBJECT:
        raise BadRequest(
            f"not a WhatsApp Business Account notification (object = {data.get('object')!r})",
            errors=[{"field": "object", "message": f"expected {OBJECT!r}"}],
        )
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise BadRequest("'entry' must be a list", errors=[{"field": "entry", "message": "expected a list"}])
    return [m for i, entry in enumerate(entries) for m in _entry(entry, f"entry[{i}]")]


def _entry(entry: Any, where: str) -> Iterator[StandardMessage]:
    if not isinstance(entry, dict) or not isinstance(entry.get("changes"), list):
        yield unparsed(entry, where, "an entry must be an object with a 'changes' list")
        return
    waba_id = entry.get("id") if isinstance(entry.get("id"), str) else None
    for j, change in enumerate(entry["changes"]):
        at = f"{where}.changes[{j}]"
        if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
            yield unparsed(change, at, "a change must be an object with a 'value' object")
            continue
        if change.get("field") != "messages":
            continue  # account, template and quality updates are not messages
        yield from _messages_change(change["value"], waba_id, at)


def _messages_change(value: dict[str, Any], waba_id: str | None, where: str) -> Iterator[StandardMessage]:
    found = value.get("metadata")
    metadata: dict[str, Any] = found if isinstance(found, dict) else {}
    names: dict[str, str] = {}
    contacts = value.get("contacts")
    for contact in contacts if isinstance(contacts, list) else []:
        if isinstance(contact, dict) and isinstance(contact.get("wa_id"), str):
            profile = contact.get("profile")
            name = profile.get("name") if isinstance(profile, dict) else None
            if isinstance(name, str) and name:
                names[contact["wa_id"]] = name[:255]
    change = Change(waba_id, _text(metadata.get("phone_number_id")), _text(metadata.get("display_phone_number")), names)
    for key, parse in (("messages", _message), ("statuses", _status), ("errors", _reported_error)):
        items = value.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            yield unparsed(items, f"{where}.value.{key}", f"'{key}' must be a list")
            continue
        for k, item in enumerate(items):
            yield parse(item, change, f"{where}.value.{key}[{k}]")


def _message(item: Any, change: Change, where: str) -> StandardMessage:
    if not isinstance(item, dict):
        return unparsed(item, where, "a message must be an object")
    wamid, sender, kind_name = (
        _bounded(item.get("id"), MAX_WAMID),
        _bounded(item.get("from"), MAX_WA_ID),
        item.get("type"),
    )
    if wamid is None or sender is None or not isinstance(kind_name, str):
        return unparsed(
            item,
            where,
            f"a message needs 'id' (up to {MAX_WAMID} characters), 'from' (up to {MAX_WA_ID}) and 'type' strings",
            change=change,
            external_id=wamid,
            sender=sender,
        )
    try:
        timestamp = parse_timestamp(item.get("timestamp"))
        kind, text, media, details = _content(item, kind_name)
    except Malformed as err:
        return unparsed(item, where, str(err), change=change, type_name=kind_name, external_id=wamid, sender=sender)
    details = {"type": kind_name, **details}
    for key in ("referral", "identity", "errors"):
        if item.get(key) is not None:
            details[key] = item[key]
    if isinstance(item.get("context"), dict):
        details["context"] = {k: item["context"][k] for k in _CONTEXT_FIELDS if k in item["context"]}
    return StandardMessage(
        platform=PLATFORM,
        external_id=wamid,
        kind=kind,
        sender=sender,
        sender_name=change.name_of(sender),
        text=text,
        media=media,
        timestamp=timestamp,
        conversation_key=sender,
        raw=item,
        extra=change.annotated(details),
    )


Content = tuple[str, str | None, list[dict[str, Any]], dict[str, Any]]


def _content(item: dict[str, Any], kind_name: str, *, nested: bool = False) -> Content:
    """``(kind, text, media, details)`` of one message body; raises ``Malformed``."""
    if kind_name == "text":
        return "text", _required_text(_object(item, "text"), "body", "text"), [], {}
    if kind_name in MEDIA_KINDS:
        body = _object(item, kind_name)
        _required_text(body, "id", kind_name)
        media = {k: body[k] for k in _MEDIA_FIELDS if isinstance(body.get(k), str)}
        details = {k: body[k] for k in ("voice", "animated") if isinstance(body.get(k), bool)}
        return kind_name, media.get("caption"), [media], details
    if kind_name == "location":
        body = _object(item, "location")
        for axis in ("latitude", "longitude"):
            if isinstance(body.get(axis), bool) or not isinstance(body.get(axis), int | float):
                raise Malformed(f"location.{axis} must be a number")
        return "location", None, [], {"location": body}
    if kind_name == "contacts":
        cards = item.get("contacts")
        if not isinstance(cards, list) or not all(isinstance(c, dict) for c in cards):
            raise Malformed("'contacts' must be a list of objects")
        return "contacts", None, [], {"contacts": cards}
    if kind_name == "interactive":
        return _interactive(_object(item, "interactive"))
    if kind_name == "button":
        body = _object(item, "button")
        title = _text(body.get("text"))
        return "interactive", title, [], {"reply": {"type": "button", "id": _text(body.get("payload")), "title": title}}
    if kind_name == "reaction":
        body = _object(item, "reaction")
        _required_text(body, "message_id", "reaction")
        emoji = _text(body.get("emoji")) or None  # absent or "": the reaction was removed
        return (
            "reaction",
            emoji,
            [],
            {"reaction": {"message_id": body["message_id"], "emoji": emoji, "removed": not emoji}},
        )
    if kind_name == "order":
        body = _object(item, "order")
        if not isinstance(body.get("product_items"), list):
            raise Malformed("order.product_items must be a list")
        return "order", _text(body.get("text")), [], {"order": body}
    if kind_name == "system":
        body = _object(item, "system")
        return "system", _text(body.get("body")), [], {"system": body}
    if kind_name == "revoke":
        body = _object(item, "revoke")
        return (
            "event",
            None,
            [],
            {"revoke": {"original_message_id": _required_text(body, "original_message_id", "revoke")}},
        )
    if kind_name == "edit" and not nested:
        return _edit(_object(item, "edit"))
    if kind_name == "request_welcome":
        return "event", None, [], {}
    # "unsupported" (Meta could not deliver the content) and types newer than this plugin.
    return "unsupported", None, [], {}


def _interactive(body: dict[str, Any]) -> Content:
    reply_type = body.get("type")
    if reply_type in ("button_reply", "list_reply"):
        reply = _object(body, reply_type)
        title = _required_text(reply, "title", reply_type)
        details = {"type": reply_type, "id": _required_text(reply, "id", reply_type), "title": title}
        if isinstance(reply.get("description"), str):
            details["description"] = reply["description"]
        return "interactive", title, [], {"reply": details}
    if reply_type == "nfm_reply":  # a WhatsApp Flow's answer
        reply = _object(body, "nfm_reply")
        details = {"type": "nfm_reply", "name": _text(reply.get("name")), "response_json": reply.get("response_json")}
        try:
            details["response"] = json.loads(reply["response_json"])
        except (KeyError, TypeError, ValueError):
            pass
        return "interactive", _text(reply.get("body")), [], {"reply": details}
    return "interactive", None, [], {"reply": {"type": _text(reply_type)}}


def _edit(body: dict[str, Any]) -> Content:
    original = _required_text(body, "original_message_id", "edit")
    inner = _object(body, "message")
    inner_type = inner.get("type")
    if not isinstance(inner_type, str):
        raise Malformed("edit.message.type must be a string")
    kind, text, media, details = _content(inner, inner_type, nested=True)
    return kind, text, media, {**details, "edit": {"original_message_id": original, "type": inner_type}}


def _status(item: Any, change: Change, where: str) -> StandardMessage:
    if not isinstance(item, dict):
        return unparsed(item, where, "a status must be an object")
    wamid, status, recipient = _bounded(item.get("id"), MAX_WAMID), item.get("status"), item.get("recipient_id")
    if wamid is None or not isinstance(status, str) or not status:
        return unparsed(item, where, f"a status needs 'id' (up to {MAX_WAMID} characters) and 'status' strings")
    try:
        timestamp = parse_timestamp(item.get("timestamp"))
    except Malformed as err:
        return unparsed(
            item, where, str(err), change=change, type_name="status", external_id=f"status:{wamid}:{status}"
        )
    fields = ("errors", "conversation", "pricing", "biz_opaque_callback_data", "recipient_type")
    recipient = _bounded(recipient, MAX_WA_ID)
    details = {"id": wamid, "status": status, "recipient_id": recipient, "timestamp": timestamp.isoformat()}
    details |= {k: item[k] for k in fields if item.get(k) is not None}
    return StandardMessage(
        platform=PLATFORM,
        # One stored message per (message, status): Meta's redelivery of the same status dedupes.
        external_id=f"status:{wamid}:{status}"[:255],
        kind="status",
        recipient=recipient,
        timestamp=timestamp,
        raw=item,
        extra=change.annotated({"type": "status", "status": details}),
    )


def _reported_error(item: Any, change: Change, where: str) -> StandardMessage:
    """A ``value.errors[]`` item: Meta could not deliver a notification to us."""
    if not isinstance(item, dict):
        return unparsed(item, where, "an error must be an object")
    return StandardMessage(
        platform=PLATFORM,
        external_id=f"error:{_digest(item)}",
        kind="event",
        text=_text(item.get("title")) or _text(item.get("message")),
        raw=item,
        extra=change.annotated({"type": "error", "errors": [item]}),
    )


def unparsed(
    item: Any,
    where: str,
    problem: str,
    *,
    change: Change | None = None,
    type_name: str = "unparsed",
    external_id: str | None = None,
    sender: str | None = None,
) -> StandardMessage:
    """An item kept as it came, with the reason it could not be read."""
    details = {"type": type_name, "error": problem, "path": where}
    return StandardMessage(
        platform=PLATFORM,
        external_id=(external_id or f"unparsed:{_digest(item)}")[:255],
        kind="unsupported",
        sender=sender,
        sender_name=change.name_of(sender) if change and sender else None,
        conversation_key=sender,
        raw=item,
        extra=change.annotated(details) if change else {"whatsapp": details},
    )


def parse_timestamp(value: Any) -> datetime:
    """Cloud API timestamps: Unix seconds, as a string (or, rarely, a number)."""
    seconds = bounded_int(value, low=0) if isinstance(value, str) else None
    if seconds is None and isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    if seconds is None:
        raise Malformed(f"'timestamp' must be Unix seconds, got {value!r}")
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as err:
        raise Malformed(f"'timestamp' {value!r} is out of range") from err


def _object(item: dict[str, Any], key: str) -> dict[str, Any]:
    value = item.get(key)
    if not isinstance(value, dict):
        raise Malformed(f"'{key}' must be an object")
    return value


def _required_text(body: dict[str, Any], key: str, where: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise Malformed(f"{where}.{key} must be a string")
    return value


def _bounded(value: Any, limit: int) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _digest(item: Any) -> str:
    canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:48]
