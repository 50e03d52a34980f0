"""Time-ordered ids: valid UUIDv7s, increasing within a process, never shared with a fork."""

from __future__ import annotations

import multiprocessing
import uuid

from core.storage.ids import uuid7

RANDOM_BITS = (1 << 62) - 1


def test_ids_are_version_7_unique_and_increasing() -> None:
    ids = [uuid7() for _ in range(20_000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert uuid.UUID(str(ids[0])) == ids[0] and hash(uuid.UUID(str(ids[0]))) == hash(ids[0])


def _ids_in_child(queue: multiprocessing.Queue[list[int]]) -> None:
    queue.put([uuid7().int & RANDOM_BITS for _ in range(5)])


def test_a_forked_process_does_not_reuse_its_parents_random_bits() -> None:
    uuid7()  # the parent has random bytes at hand
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[list[int]] = context.Queue()
    child = context.Process(target=_ids_in_child, args=(queue,))
    child.start()
    theirs = queue.get(timeout=30)
    child.join(timeout=30)
    ours = [uuid7().int & RANDOM_BITS for _ in range(5)]
    assert not set(ours) & set(theirs)
