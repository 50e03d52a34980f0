"""Secrets the gateway hands out: API keys and refresh tokens, stored only as hashes.

They are 256-bit random strings, so a fast hash (SHA-256) is enough: there is nothing to
brute-force. Passwords are another matter (see ``passwords``).
"""

from __future__ import annotations

import hashlib
import secrets

from core.untrusted import constant_time_equal

API_KEY_PREFIX = "sb_"


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def same_hash(value: str, expected_hash: str) -> bool:
    return constant_time_equal(hash_secret(value), expected_hash)


def new_api_key() -> tuple[str, str]:
    """``(key, prefix)``: the key is shown once; the prefix (``sb_`` + 8 chars) is kept visible."""
    prefix = API_KEY_PREFIX + secrets.token_hex(4)
    return f"{prefix}_{secrets.token_urlsafe(32)}", prefix


def api_key_prefix(key: str) -> str | None:
    if not key.startswith(API_KEY_PREFIX) or key.count("_") < 2:
        return None
    prefix = key[: len(API_KEY_PREFIX) + 8]
    return prefix if key[len(prefix) : len(prefix) + 1] == "_" else None


def new_refresh_token() -> str:
    return secrets.token_urlsafe(48)
