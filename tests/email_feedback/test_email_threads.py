"""The e-mail plugin's thread records: what the next reply answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plugins.email import threads


async def test_recording_a_message_id_again_leaves_the_thread_as_it_is(app_client: Callable[..., Any]) -> None:
    # A reply re-sent after a crash before its outcome was recorded, or an inbound mail whose
    # record comes late, must not make an older mail the one the next reply answers.
    async with app_client(plugins={"email": {"signing_key": "key-0123456789abcdef"}}) as client:
        db = client.gateway.db
        async with db.transaction() as conn:
            await threads.record(conn, "ann@example.net", "<in-1@example.net>", subject="Water", refs=[])
            await threads.record(conn, "ann@example.net", "<reply-1@gw.example.org>", subject="Water", refs=[])
        async with db.transaction() as conn:
            await threads.record(conn, "ann@example.net", "<in-1@example.net>", subject="Water", refs=[])
        async with db.transaction() as conn:
            thread = await threads.find(conn, "ann@example.net")
    assert thread is not None
    assert thread.last_message_id == "<reply-1@gw.example.org>"
    assert thread.refs == ["<in-1@example.net>", "<reply-1@gw.example.org>"]
