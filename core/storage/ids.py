"""Time-ordered UUIDs (version 7, RFC 9562).

Ordering by id is ordering by creation time, so keyset pagination needs only the id and
PostgreSQL's b-tree inserts stay at the right-hand edge of the index.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0
# Random bytes are read from the OS a few kilobytes at a time: one os.urandom call per id was
# half of what an id cost (a 1,000-message ingest batch made 1,000 system calls).
_POOL_SIZE = 4096
_pool = b""
_at = 0


def _forget_pool() -> None:
    """A forked process must not hand out the random bytes its parent also uses."""
    global _pool, _at
    _pool, _at = b"", 0


os.register_at_fork(after_in_child=_forget_pool)

_new = object.__new__
_set = object.__setattr__
_UNKNOWN = uuid.SafeUUID.unknown


def uuid7() -> uuid.UUID:
    """A UUIDv7; monotonic within this process (a 12-bit counter breaks same-millisecond ties)."""
    global _last_ms, _counter, _pool, _at
    with _lock:
        if _at + 10 > len(_pool):
            _pool, _at = os.urandom(_POOL_SIZE), 0
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            _last_ms = ms
            _counter = int.from_bytes(_pool[_at : _at + 2], "big") & 0x3FF  # leave room to count up
        counter = _counter
        rand = int.from_bytes(_pool[_at + 2 : _at + 10], "big") & ((1 << 62) - 1)
        _at += 10
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
    # What uuid.UUID(int=value) builds, without its argument checks (a third of the cost).
    u = _new(uuid.UUID)
    _set(u, "int", value)
    _set(u, "is_safe", _UNKNOWN)
    return u


def uuid7_floor(ms: int) -> uuid.UUID:
    """The smallest UUIDv7 of the millisecond ``ms`` (to turn a time bound into an id bound)."""
    return uuid.UUID(int=(ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | 0b10 << 62)
