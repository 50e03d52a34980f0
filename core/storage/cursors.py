"""Keyset pagination cursors: the key of the last item of a page, opaque to the client."""

from __future__ import annotations

import base64
import binascii
import uuid

from core.errors import BadRequest


def _invalid(err: Exception) -> BadRequest:
    return BadRequest("invalid cursor", errors=[{"field": "cursor", "message": "not a cursor of this list"}])


def encode_cursor(last: uuid.UUID | int) -> str:
    raw = last.bytes if isinstance(last, uuid.UUID) else str(last).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _raw(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def decode_cursor(cursor: str) -> uuid.UUID:
    """The id a cursor stands for; a cursor this server did not make is a 400."""
    try:
        return uuid.UUID(bytes=_raw(cursor))
    except (ValueError, binascii.Error) as err:
        raise _invalid(err) from err


def decode_int_cursor(cursor: str) -> int:
    try:
        return int(_raw(cursor).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError) as err:
        raise _invalid(err) from err
