"""The switchboard_messages_stored hook: called after commit, free to submit messages itself."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from core import StandardMessage, Stored, hookimpl
from core.gateway import Gateway
from core.testing import wait_until


class Acknowledger:
    """Answers every new inbound message with an outbound one, as an auto-reply plugin does."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

    @hookimpl
    async def switchboard_messages_stored(
        self, stored: Sequence[tuple[StandardMessage, Stored]], gateway: Gateway
    ) -> None:
        for message, result in stored:
            self.seen.append((message.external_id, result.conversation_opened))
        replies = [
            StandardMessage(
                platform=m.platform,
                external_id=f"ack-{m.external_id}",
                kind="text",
                direction="out",
                recipient=m.sender,
            )
            for m, _ in stored
            if m.direction == "in"
        ]
        if replies:
            await gateway.submit(replies, destinations=[])


def inbound(external_id: str, sender: str = "+255700000001") -> StandardMessage:
    return StandardMessage(platform="hooktest", external_id=external_id, kind="text", sender=sender, text="hi")


async def test_a_hook_may_submit_messages_without_stalling_ingest(app_client: Any) -> None:
    plugin = Acknowledger()
    async with app_client(extra_plugins=[("acknowledger", plugin)]) as client:
        first = await asyncio.wait_for(client.gateway.submit([inbound("m1")]), timeout=10)
        # Ingest still answers afterwards: the hook's own submit did not wait on the ingestor.
        second = await asyncio.wait_for(client.gateway.submit([inbound("m2")]), timeout=10)
        await wait_until(
            lambda: len(plugin.seen) == 4, timeout=4, interval=0.02, message="the hook to see the four messages"
        )
    assert not first[0].duplicate and not second[0].duplicate
    assert sorted(plugin.seen) == [("ack-m1", False), ("ack-m2", False), ("m1", True), ("m2", False)]
