"""What one ingest batch stores, on both databases: the SQLite store decides in Python, the
PostgreSQL store in one statement; these pin down that they decide the same."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from core import StandardMessage
from core.gateway import Gateway
from core.storage.models import audit_log, conversations, deliveries, messages
from tests.support.pipeline import sink_gateway


@pytest.fixture
async def gateway(clean_stack) -> AsyncIterator[Gateway]:  # type: ignore[no-untyped-def]
    async with sink_gateway(clean_stack, "store", conversations={"idle_timeout": 3600}) as gw:
        yield gw


def msg(external_id: str, sender: str = "+255700000001", **fields: Any) -> StandardMessage:
    fields.setdefault("text", "t")
    return StandardMessage(platform="store", external_id=external_id, kind="text", sender=sender, **fields)


async def rows(gw: Gateway, query: sa.Select[Any]) -> list[Any]:
    async with gw.db.transaction() as conn:
        return list((await conn.execute(query)).all())


async def test_one_batch_of_new_repeated_and_stored_messages(gateway: Gateway) -> None:
    [before] = await gateway.ingest.submit([msg("old")])
    items = [msg("new"), msg("new"), msg("old"), msg("other", sender="+255700000002")]
    first, repeat, old, other = await gateway.ingest.submit(items)
    # Each message carries the id it is stored under, a duplicate that of the stored one.
    assert [m.id for m in items] == [first.message_id, first.message_id, before.message_id, other.message_id]
    assert not first.duplicate and first.conversation_id == before.conversation_id
    assert not first.conversation_opened and len(first.delivery_ids) == 1 and first.destinations == ["sink"]
    assert repeat.duplicate and repeat.message_id == first.message_id and repeat.delivery_ids == []
    assert old.duplicate and old.message_id == before.message_id and old.delivery_ids == []
    assert not other.duplicate and other.conversation_opened and other.conversation_id != first.conversation_id

    stored = await rows(gateway, sa.select(messages.c.external_id, messages.c.id, messages.c.conversation_id))
    assert sorted((r.external_id, r.id, r.conversation_id) for r in stored) == sorted(
        [
            ("old", before.message_id, before.conversation_id),
            ("new", first.message_id, first.conversation_id),
            ("other", other.message_id, other.conversation_id),
        ]
    )
    per_message = await rows(gateway, sa.select(deliveries.c.message_id, deliveries.c.id, deliveries.c.status))
    assert sorted((r.message_id, r.id) for r in per_message) == sorted(
        (s.message_id, s.delivery_ids[0]) for s in (before, first, other)
    )
    assert {r.status for r in per_message} == {"queued"}
    convs = await rows(gateway, sa.select(conversations.c.id, conversations.c.message_count, conversations.c.status))
    assert sorted((c.id, c.message_count, c.status) for c in convs) == sorted(
        [(before.conversation_id, 2, "open"), (other.conversation_id, 1, "open")]
    )


async def test_the_first_new_message_opens_the_conversation_and_the_rest_join_it(gateway: Gateway) -> None:
    later = datetime.now(UTC) + timedelta(seconds=5)
    a, b, c = await gateway.ingest.submit([msg("a"), msg("b", timestamp=later), msg("c")])
    assert [s.conversation_opened for s in (a, b, c)] == [True, False, False]
    assert a.conversation_id == b.conversation_id == c.conversation_id
    [conv] = await rows(gateway, sa.select(conversations))
    assert conv.message_count == 3 and conv.last_message_at == later and conv.status == "open"


async def test_an_idle_conversation_is_closed_and_the_batch_opens_the_next(gateway: Gateway) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=3)
    [old] = await gateway.ingest.submit([msg("then", timestamp=long_ago)])
    # Its conversation was last active three hours ago, past the one-hour idle window.
    async with gateway.db.transaction() as conn:
        await conn.execute(sa.update(conversations).values(last_message_at=long_ago))
    first, second = await gateway.ingest.submit([msg("now-1"), msg("now-2")])
    assert first.conversation_opened and not second.conversation_opened
    assert first.conversation_id == second.conversation_id != old.conversation_id
    convs = {c.id: c for c in await rows(gateway, sa.select(conversations))}
    assert convs[old.conversation_id].status == "closed" and convs[old.conversation_id].closed_at is not None
    assert convs[first.conversation_id].status == "open" and convs[first.conversation_id].message_count == 2


async def test_a_batch_of_duplicates_opens_no_conversation_and_moves_none(gateway: Gateway) -> None:
    [stored] = await gateway.ingest.submit([msg("x")])
    [again] = await gateway.ingest.submit([msg("x")])
    assert again.duplicate and again.message_id == stored.message_id
    [conv] = await rows(gateway, sa.select(conversations))
    assert conv.message_count == 1 and conv.id == stored.conversation_id


async def test_outbound_and_conversationless_messages(gateway: Gateway) -> None:
    out = StandardMessage(
        platform="store", external_id="out-1", kind="text", direction="out", recipient="+255700000003", text="hi"
    )
    loose = StandardMessage(platform="store", external_id="loose", kind="reading", sender=None, text="42")
    [o, n] = await gateway.ingest.submit([out, loose], destinations=[])
    assert o.conversation_id is not None and o.delivery_ids == []
    assert n.conversation_id is None and not n.conversation_opened
    [conv] = await rows(gateway, sa.select(conversations.c.participant))
    assert conv.participant == "+255700000003"


async def test_values_round_trip_exactly(gateway: Gateway) -> None:
    """Every column the store writes reads back as given: text with quotes, backslashes and
    non-ASCII, nested JSON, microsecond times, a caller's own message id, options, audit rows."""
    when = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    own_id = uuid.UUID("01900000-0000-7000-8000-000000000001")
    text = 'He said "habari" \\ naam — ✓ \n next line'
    item = msg(
        "exact",
        id=own_id,
        timestamp=when,
        text=text,
        sender_name="Ámina",
        media=[{"url": "https://x.test/a.jpg", "mime_type": "image/jpeg"}],
        extra={"nested": {"list": [1, 2.5, None, True]}, "big": 2**62},
        raw={"unicode": "✓", "n": 1},
    )
    audit = gateway.audit.row("webhook", action="received", status=200, detail={"messages": 1})
    [stored] = await gateway.ingest.submit([item], options={"priority": "high"}, audit=audit)
    assert stored.message_id == own_id
    [row] = await rows(gateway, sa.select(messages))
    assert (row.id, row.timestamp, row.text, row.sender_name) == (own_id, when, text, "Ámina")
    assert row.media == [{"url": "https://x.test/a.jpg", "mime_type": "image/jpeg"}]
    assert row.extra == {"nested": {"list": [1, 2.5, None, True]}, "big": 2**62}
    assert row.raw == {"unicode": "✓", "n": 1}
    [delivery] = await rows(gateway, sa.select(deliveries))
    assert delivery.options == {"priority": "high"} and delivery.idempotency_key == stored.delivery_ids[0].hex
    assert delivery.max_attempts == gateway.settings.delivery.max_attempts and delivery.attempt_count == 0
    [logged] = await rows(gateway, sa.select(audit_log).where(audit_log.c.kind == "webhook"))
    assert logged.detail == {"messages": 1} and logged.at == audit["at"] and logged.status == 200


async def test_integers_beyond_64_bits_are_stored(gateway: Gateway) -> None:
    [stored] = await gateway.ingest.submit([msg("huge", extra={"n": 2**70})])
    [row] = await rows(gateway, sa.select(messages.c.extra))
    assert row.extra == {"n": 2**70} and not stored.duplicate
