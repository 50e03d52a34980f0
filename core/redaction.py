"""Redaction of secrets and personal data before anything is logged or audited."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
_VERDICTS = 4096


class Redactor:
    """Replaces the values of configured keys (case-insensitive, anywhere in a structure)."""

    def __init__(self, keys: Iterable[str]) -> None:
        words = sorted({k.lower() for k in keys if k})
        self.words: tuple[str, ...] = tuple(words)
        self._pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE) if words else None
        # Each key's verdict, kept: the same few keys come back in every payload (bounded: a
        # payload may bring any keys).
        self._verdicts: dict[str, bool] = {}
        self._folded = tuple(w.casefold() for w in words)

    def is_sensitive(self, key: str) -> bool:
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = bool(self._pattern and self._pattern.search(key))
            if len(self._verdicts) < _VERDICTS:
                self._verdicts[key] = verdict
        return verdict

    def mentioned(self, text: str) -> bool:
        """Whether a redact word may occur anywhere in ``text`` (if not, no key in it is sensitive).

        Substring tests on the case-folded text, many times quicker than the pattern on a whole
        body. Case folding maps every character the pattern's IGNORECASE matches to a word's
        letter (``ſ`` to ``s``, the Kelvin sign to ``k``) onto that letter, so a text the pattern
        finds a word in is always "mentioned"; folding more (``ß`` to ``ss``) only costs a parse.
        """
        if not self._folded:
            return False
        folded = text.casefold()
        return any(word in folded for word in self._folded)

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


# A phone number written with its country code (E.164, maybe spaced: "+256 700 100 200") and an
# e-mail address, wherever they are in a text. A number without its "+" cannot be told from an id
# or a count, so it is not caught here: code that logs must not log a number in the first place.
_PHONE = re.compile(r"(?<![\w+])\+\d(?:[ ().-]{0,2}\d){6,16}(?![\w@])")
_EMAIL = re.compile(r"(?<![\w.+-])([\w.+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})(?![\w-])")


def _masked_email(local: str, domain: str) -> str:
    return f"{local[:1]}***@{domain}"


def mask(value: str | None) -> str | None:
    """``value`` fit for a log line: a phone number or an e-mail address masked, or, in a longer
    text, every phone number written with its ``+`` and every e-mail address in it masked.

    ``mask("+256700100200")`` → ``"+256*******00"``, ``mask("ann@example.net")`` → ``"a***@example.net"``,
    ``mask("call +256700100200")`` → ``"call +256*******00"``. Anything else is left as it is: a name
    or a message's text cannot be recognised, so do not log those at all.
    """
    if not value:
        return value
    if _EMAIL.fullmatch(value.strip()) or _PHONE.fullmatch(value.strip()):
        return mask_text(value.strip())
    if value.isdigit() and len(value) >= 7:
        return mask_phone(value)  # a bare number handed over on its own is a number
    return mask_text(value)


def mask_text(text: str) -> str:
    """``text`` with every ``+``-prefixed phone number and every e-mail address in it masked."""
    if "@" in text:
        text = _EMAIL.sub(lambda m: _masked_email(m.group(1), m.group(2)), text)
    if "+" in text:
        text = _PHONE.sub(lambda m: mask_phone(re.sub(r"[ ().-]", "", m.group(0))) or "", text)
    return text
