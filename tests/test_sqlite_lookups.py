"""On SQLite (the embedded default), the lookups of every ingested batch and of the search box read
an index: none scans the messages or conversations table, which grows with every message kept.

A row-value ``(platform, external_id) IN (VALUES …)`` was answered by a whole-table scan on
SQLite: each batch's duplicate check read every stored message. The plan of each SELECT the
ingest and the search run is asked of SQLite itself (``EXPLAIN QUERY PLAN``).
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from core.messages import StandardMessage
from core.operations import records
from core.testing import GatewayClient

pytestmark = pytest.mark.stacks("sqlite")

SCANNED = ("SCAN messages", "SCAN conversations")


async def _plans_of(client: GatewayClient, statements: list[tuple[str, Any]]) -> list[str]:
    plans = []
    async with client.gateway.db.engine.connect() as conn:
        for statement, parameters in statements:
            rows = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)).all()
            plans.extend(f"{row[-1]}  <- {' '.join(statement.split())[:120]}" for row in rows)
    return plans


async def _selects_during(client: GatewayClient, action: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    engine = client.gateway.db.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", grab)
    try:
        await action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", grab)
    return seen


def _message(n: int, platform: str = "whatsapp") -> StandardMessage:
    return StandardMessage(
        platform=platform, external_id=f"wamid.{n}", kind="text", sender=f"+2557000000{n % 7:02d}", text="hi"
    )


async def test_each_ingested_batch_looks_up_duplicates_and_conversations_through_indexes(client: GatewayClient) -> None:
    await client.gateway.submit([_message(n) for n in range(20)] + [_message(n, "telegram") for n in range(5)])

    async def batch() -> None:  # new messages, duplicates, open conversations to join, two platforms
        await client.gateway.submit(
            [_message(n) for n in range(15, 30)] + [_message(n, "telegram") for n in range(3, 8)]
        )

    statements = await _selects_during(client, batch)
    assert any("messages" in s for s, _ in statements) and any("conversations" in s for s, _ in statements)
    plans = await _plans_of(client, statements)
    assert [p for p in plans if p.startswith(SCANNED)] == []


async def test_the_search_box_finds_an_external_id_through_the_index(client: GatewayClient) -> None:
    await client.gateway.submit([_message(n) for n in range(5)])

    async def search() -> None:
        found = await records.search(client.gateway.db, "wamid.3", ["whatsapp", "telegram", "sms"])
        assert [m["external_id"] for m in found["messages"]] == ["wamid.3"]

    plans = await _plans_of(client, await _selects_during(client, search))
    assert [p for p in plans if p.startswith(SCANNED)] == []


async def test_with_a_data_key_the_lookups_still_find_the_sealed_pairs(app_client: Any) -> None:
    from tests.privacy.support import KEY

    async with app_client(privacy={"key": KEY}) as client:
        await client.gateway.submit([_message(1)])
        again = await client.gateway.submit([_message(1), _message(8), _message(15)])  # a duplicate; two to join
        assert [s.duplicate for s in again] == [True, False, False]
        async with client.gateway.db.transaction() as conn:
            rows = (await conn.execute(sa.text("SELECT external_id, conversation_id FROM messages"))).all()
    conversation = dict(rows)
    # +255700000001 wrote wamid.1, wamid.8 and wamid.15 (n % 7 == 1): one conversation, found by its sealed form.
    assert conversation["wamid.1"] == conversation["wamid.8"] == conversation["wamid.15"]
