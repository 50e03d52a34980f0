"""What makes a password acceptable: length, not common, not the username, not trivial."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from core.auth.passwords import MAX_PASSWORD_LENGTH

_LIST = Path(__file__).with_name("common_passwords.txt")
_LEET = str.maketrans({"@": "a", "4": "a", "3": "e", "1": "i", "!": "i", "0": "o", "$": "s", "5": "s", "7": "t"})
_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm", "01234567890")


@cache
def common_passwords() -> frozenset[str]:
    lines = _LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _forms(password: str) -> set[str]:
    """The password as people vary common ones: case, letter swaps, digits or symbols around a word."""
    lowered = password.lower()
    forms = {lowered, lowered.translate(_LEET)}
    forms |= {_EDGES.sub("", f) for f in forms}
    return {f for f in forms if f}


def _is_sequence(text: str) -> bool:
    return any(text in seq or text in seq[::-1] for seq in _SEQUENCES)


def password_problems(password: str, *, min_length: int, username: str | None = None) -> list[str]:
    """Why ``password`` is refused; empty when it is acceptable."""
    if len(password) < min_length:
        return [f"must be at least {min_length} characters long"]
    if len(password) > MAX_PASSWORD_LENGTH:
        return [f"must be at most {MAX_PASSWORD_LENGTH} characters long"]
    problems: list[str] = []
    lowered = password.lower()
    if len(set(lowered)) < 4 or _is_sequence(lowered):
        problems.append("is too simple (repeated or sequential characters)")
    elif _forms(password) & common_passwords():
        problems.append("is too common: choose one that is not on lists of breached passwords")
    if username and len(username) >= 3 and username.lower() in lowered:
        problems.append("must not contain the username")
    return problems
