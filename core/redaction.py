"""Redaction of secrets and personal data before anything is logged or audited."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"


class Redactor:
    """Replaces the values of configured keys (case-insensitive, anywhere in a structure)."""

    def __init__(self, keys: Iterable[str]) -> None:
        words = sorted({k.lower() for k in keys if k})
        self.words: tuple[str, ...] = tuple(words)
        self._pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE) if words else None

    def is_sensitive(self, key: str) -> bool:
        return bool(self._pattern and self._pattern.search(key))

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: REDACTED if self.is_sensitive(str(k)) else self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value


def mask_phone(number: str | None) -> str | None:
    """``+255712345678`` → ``+2557******78``: enough to correlate, not to call."""
    if not number:
        return number
    if len(number) <= 6:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 6) + number[-2:]
