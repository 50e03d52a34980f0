"""Signed, expiring download links: HMAC-SHA256 over the report id and the expiry time.

The key is derived from ``[auth] secret_key`` for this purpose alone, so every process that
shares the secret signs and checks the same links, and a link cannot be turned into a token.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid

from core import Gateway, bounded_int, constant_time_equal, derive_key

PURPOSE = "reports:download-link"


def signature(key: bytes, report_id: uuid.UUID, expires: int) -> str:
    return hmac.new(key, f"{report_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def signed_query(gateway: Gateway, report_id: uuid.UUID, ttl: int, now: float | None = None) -> tuple[str, int]:
    """The query string of a link valid for ``ttl`` seconds, and its expiry (Unix seconds)."""
    expires = int(now if now is not None else time.time()) + ttl
    return f"expires={expires}&signature={signature(derive_key(gateway, PURPOSE), report_id, expires)}", expires


def link_is_valid(gateway: Gateway, report_id: uuid.UUID, expires: str | None, sig: str | None) -> bool:
    """Whether the link is genuine and unexpired (compared in constant time)."""
    expiry = bounded_int(expires, low=0)
    if expiry is None or not sig:
        return False
    expected = signature(derive_key(gateway, PURPOSE), report_id, expiry)
    return constant_time_equal(sig, expected) and expiry > time.time()
