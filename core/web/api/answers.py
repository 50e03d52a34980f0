"""JSON schemas of the ``/api`` answers, for the OpenAPI document (``describe(responses=…)``)."""

from __future__ import annotations

from typing import Any

from core.web.openapi import OBJECT, page_of

_TEXT: dict[str, Any] = {"type": "string"}
_MAYBE_TEXT: dict[str, Any] = {"type": ["string", "null"]}


def _object(required: dict[str, Any], **optional: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {**required, **optional}, "required": list(required)}


USER = _object(
    {"id": _TEXT, "username": _TEXT, "role": _TEXT, "status": _TEXT, "active": {"type": "boolean"}},
    full_name=_MAYBE_TEXT,
    email=_MAYBE_TEXT,
    must_change_password={"type": "boolean"},
    locked_until=_MAYBE_TEXT,
)
USERS = page_of(USER)
_TEXTS = {"type": "array", "items": _TEXT}
ROLE = _object({"name": _TEXT, "builtin": {"type": "boolean"}, "description": _TEXT, "permissions": _TEXTS})
ROLES = _object(
    {
        "permissions": {"type": "array", "items": _object({"name": _TEXT, "description": _TEXT, "role": _TEXT})},
        "roles": {
            "type": "array",
            "items": _object(
                {"name": _TEXT, "builtin": {"type": "boolean"}, "description": _TEXT, "permissions": _TEXTS}
            ),
        },
    }
)
SIGNED_UP = _object({"username": _TEXT, "status": _TEXT})
TOKENS = _object({"access_token": _TEXT, "refresh_token": _TEXT, "token_type": _TEXT})
KEY = _object(
    {"id": _TEXT, "name": _TEXT, "prefix": _TEXT, "scopes": {"type": "array", "items": _TEXT}, "state": _TEXT}
)
KEYS = page_of(KEY)
NEW_KEY = {**KEY, "properties": {**KEY["properties"], "key": _TEXT}, "required": [*KEY["required"], "key"]}
JOBS = _object({"items": {"type": "array", "items": _object({"name": _TEXT, "enabled": {"type": "boolean"}})}})
JOB_QUEUED = _object({"name": _TEXT, "queued": {"type": "boolean"}})
JOB_SWITCHED = _object({"name": _TEXT, "enabled": {"type": "boolean"}})
PAGE = page_of(both_ways=True)  # messages, deliveries, conversations, logs: next and newer
RECORD = OBJECT
DELIVERY_STATE = _object({"id": _TEXT, "status": _TEXT})
REQUEUED = _object({"requeued": {"type": "integer"}})
PURGED = _object({"purged": {"type": "integer"}})
REPLY_QUEUED = _object({"message_id": _TEXT, "delivery_ids": {"type": "array", "items": _TEXT}})
_COUNT: dict[str, Any] = {"type": "integer"}
SUMMARY = _object(
    {"window": _TEXT, "since": _TEXT, "messages": OBJECT, "deliveries": OBJECT},
    created=_COUNT,
    attempts=_object({"delivered": _COUNT, "retry": _COUNT, "dead": _COUNT}),
    destinations={"type": "array", "items": OBJECT},
    delivery_time_ms=OBJECT,
    queue=OBJECT,
    volume={"type": "array", "items": OBJECT},
    rollup=_object({"hours": _COUNT, "rolled": _COUNT}),
)
_COUNTS: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "integer"}}
ERASURE = _object(
    {"id": _TEXT, "tables": _COUNTS, "cancelled_deliveries": {"type": "integer"}, "total": {"type": "integer"}}
)
EXPORT = _object(
    {"id": _TEXT, "status": _TEXT, "created_at": _TEXT},
    requested_by=_MAYBE_TEXT,
    completed_at=_MAYBE_TEXT,
    counts={"type": ["object", "null"], "additionalProperties": {"type": "integer"}},
    size_bytes={"type": ["integer", "null"]},
    error=_MAYBE_TEXT,
    download_url=_MAYBE_TEXT,
    expires_at=_MAYBE_TEXT,
)
