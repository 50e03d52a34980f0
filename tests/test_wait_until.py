"""core.testing.wait_until: the one way tests wait for something to happen."""

from __future__ import annotations

import pytest

from core.testing import wait_until


async def test_returns_the_first_truthy_value_the_check_gives() -> None:
    answers = iter([None, [], {"status": "delivered"}, {"status": "later"}])
    assert await wait_until(lambda: next(answers), interval=0) == {"status": "delivered"}


async def test_a_coroutine_check_is_awaited() -> None:
    calls: list[int] = []

    async def third_call() -> int | None:
        calls.append(1)
        return len(calls) if len(calls) == 3 else None

    assert await wait_until(third_call, interval=0) == 3


async def test_on_timeout_the_error_names_what_was_awaited_and_the_last_value() -> None:
    with pytest.raises(AssertionError, match=r"after 0.05s waiting for the receiver to answer; last value: \[\]"):
        await wait_until(lambda: [], timeout=0.05, interval=0.01, message="the receiver to answer")


async def test_without_a_message_the_error_names_the_check() -> None:
    def receiver_answered() -> bool:
        return False

    with pytest.raises(AssertionError, match="waiting for receiver_answered; last value: False"):
        await wait_until(receiver_answered, timeout=0.01, interval=0.01)


async def test_an_error_in_the_check_ends_the_wait_at_once() -> None:
    calls: list[int] = []

    def broken() -> bool:
        calls.append(1)
        raise ConnectionRefusedError("nothing listens")

    with pytest.raises(ConnectionRefusedError):
        await wait_until(broken, timeout=10)
    assert calls == [1]
