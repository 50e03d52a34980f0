"""DHIS2 identifiers: eleven characters, a letter then ten letters or digits."""

from __future__ import annotations

import hashlib
import re
import secrets
import string

UID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")
_LETTERS = string.ascii_letters
_ALPHANUMERIC = string.ascii_letters + string.digits


def is_uid(value: object) -> bool:
    """Whether ``value`` has the form of a DHIS2 uid."""
    return isinstance(value, str) and UID_PATTERN.match(value) is not None


def new_uid() -> str:
    """A random uid, as DHIS2's CodeGenerator makes them."""
    return secrets.choice(_LETTERS) + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(10))


def uid_from(seed: str) -> str:
    """A uid derived from ``seed``: the same seed always gives the same uid.

    Used where a retry must name the same object again (a routed message rendered once
    per attempt), so that DHIS2 updates instead of creating a duplicate.
    """
    digest = hashlib.sha256(seed.encode()).digest()
    number = int.from_bytes(digest, "big")
    chars = [_LETTERS[number % len(_LETTERS)]]
    number //= len(_LETTERS)
    for _ in range(10):
        chars.append(_ALPHANUMERIC[number % len(_ALPHANUMERIC)])
        number //= len(_ALPHANUMERIC)
    return "".join(chars)
