"""The worker's claim finds deliveries by key, whatever the database's statistics say.

Statistics gathered while every delivery was delivered, then a backlog (an outage, a burst).
On PostgreSQL the claim was then planned on the (status, next_attempt_at) index: a claim of
50 read every waiting delivery and filtered them by id, so each claim grew with the backlog
(15-22 ms at 100,000 waiting, against about 1 ms by key) just when the worker most needs to
drain. SQLite probes (status, id) for each id: by key as well.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from core import StandardMessage
from core.gateway import Gateway
from core.pipeline.delivery_store import _CLAIM, claim_statement
from core.storage.models import deliveries
from tests.support.pipeline import sink_gateway


@pytest.fixture
async def gateway(clean_stack) -> AsyncIterator[Gateway]:  # type: ignore[no-untyped-def]
    async with sink_gateway(clean_stack, "plan") as gw:
        yield gw


async def store(gw: Gateway, start: int, n: int) -> list[Any]:
    ids = []
    for i in range(start, start + n, 500):
        batch = [
            StandardMessage(platform="plan", external_id=f"p{j}", kind="text", sender=f"+2557{j % 300:08d}", text="x")
            for j in range(i, min(start + n, i + 500))
        ]
        ids += [d for s in await gw.ingest.submit(batch) for d in s.delivery_ids]
    return ids


def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("Plans", []) for n in walk(child))]


async def postgres_claim_plan(gw: Gateway, ids: list[Any]) -> None:
    now = datetime.now(UTC)
    async with gw.db.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        claim = raw.transaction()
        await claim.start()
        try:  # EXPLAIN ANALYZE runs the claim: undo it
            [[plan]] = await raw.fetch(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + _CLAIM, ids, now + timedelta(seconds=60), now
            )
        finally:
            await claim.rollback()
    nodes = walk((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])
    # Index and bitmap index scans name their index; a bitmap heap scan or a seq scan reads rows.
    indexes = {n["Index Name"] for n in nodes if "Index Name" in n}
    assert "pk_deliveries" in indexes and indexes <= {"pk_deliveries", "pk_messages"}, nodes
    on_deliveries = [n for n in nodes if n.get("Relation Name") == "deliveries" and "Scan" in n["Node Type"]]
    assert all(n["Node Type"] != "Seq Scan" for n in on_deliveries), on_deliveries
    assert sum(n.get("Rows Removed by Filter", 0) for n in on_deliveries) == 0
    assert sum(n.get("Actual Rows", 0) for n in nodes if n["Node Type"] == "ModifyTable") == 50


async def sqlite_claim_plan(gw: Gateway, ids: list[Any]) -> None:
    now = datetime.now(UTC)
    compiled = claim_statement(ids, now, now).compile(
        dialect=gw.db.engine.dialect, compile_kwargs={"render_postcompile": True}
    )
    # The plan does not depend on the values: any of the right kind will do.
    values = [v if isinstance(v, int) else str(v) for v in (compiled.params[n] for n in compiled.positiontup or [])]
    async with gw.db.transaction() as conn:
        plan = [row[-1] for row in await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", tuple(values))]
    on_deliveries = [step for step in plan if " deliveries " in f"{step} "]
    assert on_deliveries and all(step.startswith("SEARCH") and "id=?" in step for step in on_deliveries), plan


async def test_a_claim_reads_its_deliveries_by_key_under_statistics_from_before_a_backlog(gateway: Gateway) -> None:
    await store(gateway, 0, 2000)
    async with gateway.db.transaction() as conn:
        await conn.execute(sa.update(deliveries).values(status="delivered"))
    async with gateway.db.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text("ANALYZE"))
    waiting = await store(gateway, 2000, 4000)
    if gateway.db.dialect == "postgresql":
        await postgres_claim_plan(gateway, waiting[-50:])
    else:
        await sqlite_claim_plan(gateway, waiting[-50:])
