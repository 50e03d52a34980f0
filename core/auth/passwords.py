"""Password hashing: scrypt (memory-hard, in the standard library).

A hash is self-describing, ``scrypt$n=32768,r=8,p=1$<salt>$<key>`` (base64), so a change of
cost applies to new hashes at once and to old ones at their owner's next login
(``needs_rehash``). Hashing runs in a thread, so the event loop keeps serving, and a
semaphore bounds how many run at once, so a burst of logins cannot exhaust memory.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
from dataclasses import dataclass

from core.untrusted import constant_time_equal

_FORMAT = re.compile(r"^scrypt\$n=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$")
_KEY_BYTES = 32
_R, _P = 8, 1
# Longer input costs nothing more to scrypt, but bounds what a caller can make us read and copy.
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class _Params:
    n: int
    r: int
    p: int

    @property
    def maxmem(self) -> int:
        return 128 * self.r * (self.n + self.p + 2) + 1024 * 1024


def _derive(password: str, salt: bytes, params: _Params) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=params.n, r=params.r, p=params.p, maxmem=params.maxmem, dklen=_KEY_BYTES
    )


def hash_password_sync(password: str, n: int) -> str:
    """A new hash of ``password`` with cost ``n`` (blocking: call ``PasswordHasher.hash``)."""
    params = _Params(n, _R, _P)
    salt = secrets.token_bytes(16)
    key = _derive(password, salt, params)
    b64 = base64.b64encode
    return f"scrypt$n={n},r={_R},p={_P}${b64(salt).decode()}${b64(key).decode()}"


def _parse(encoded: str) -> tuple[_Params, bytes, bytes] | None:
    match = _FORMAT.match(encoded)
    if match is None:
        return None
    n, r, p = (int(match.group(i)) for i in (1, 2, 3))
    if n < 2 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16 or n > 2**22:
        return None
    return _Params(n, r, p), base64.b64decode(match.group(4)), base64.b64decode(match.group(5))


def verify_password_sync(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded``; an unusable hash (``!…``) never matches."""
    parsed = _parse(encoded)
    if parsed is None:
        return False
    params, salt, expected = parsed
    return constant_time_equal(_derive(password, salt, params), expected)


class PasswordHasher:
    """Hashes and verifies off the event loop, at most ``concurrency`` at a time."""

    def __init__(self, n: int, concurrency: int) -> None:
        self.n = n
        self._slots = asyncio.Semaphore(concurrency)
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(hash_password_sync, password, self.n)

    async def verify(self, password: str, encoded: str | None) -> bool:
        """Verify; with no hash (unknown user) a dummy one is checked, so both take as long."""
        if encoded is None or _parse(encoded) is None:
            if self._dummy is None:
                self._dummy = await self.hash(secrets.token_urlsafe(16))
            encoded_or_dummy, real = self._dummy, False
        else:
            encoded_or_dummy, real = encoded, True
        async with self._slots:
            matched = await asyncio.to_thread(verify_password_sync, password, encoded_or_dummy)
        return matched and real

    def needs_rehash(self, encoded: str) -> bool:
        parsed = _parse(encoded)
        return parsed is not None and (parsed[0].n, parsed[0].r, parsed[0].p) != (self.n, _R, _P)
