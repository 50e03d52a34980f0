"""Keyset pagination cursors: the id of the last item of a page, opaque to the client."""

from __future__ import annotations

import base64
import binascii
import uuid

from core.errors import BadRequest


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> uuid.UUID:
    """The id a cursor stands for; a cursor this server did not make is a 400."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (ValueError, binascii.Error) as err:
        raise BadRequest(
            "invalid cursor", errors=[{"field": "cursor", "message": "not a cursor of this list"}]
        ) from err
