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


def uuid7() -> uuid.UUID:
    """A UUIDv7; monotonic within this process (a 12-bit counter breaks same-millisecond ties)."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            _last_ms = ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave room to count up
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
    return uuid.UUID(int=value)


def uuid7_floor(ms: int) -> uuid.UUID:
    """The smallest UUIDv7 of the millisecond ``ms`` (to turn a time bound into an id bound)."""
    return uuid.UUID(int=(ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | 0b10 << 62)
