"""The dashboard's hourly rollup (``core.operations.rollup``): closed hours counted once, exactly."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from core.operations import rollup
from core.operations.summary import summary
from core.pipeline import job_runs
from core.storage.ids import uuid7_floor
from core.storage.models import deliveries, delivery_attempts, messages, rollup_counts, rollup_hours
from core.testing import GatewayClient

NOW = datetime(2026, 11, 29, 12, 30, tzinfo=UTC)
CURRENT = NOW.replace(minute=0)
NEVER = datetime.now(UTC) + timedelta(days=3650)


@pytest.fixture(autouse=True)
async def no_background_rollup(rollup_off: None) -> None:
    """The job stays off: each test rolls up its own hours, at its own ``now``."""


class Seed:
    """Messages, deliveries and attempts stamped at chosen times, changed the way the pipeline would."""

    def __init__(self, client: GatewayClient) -> None:
        self.db = client.gateway.db
        self.n = 0

    async def delivery(
        self, at: datetime, *, destination: str = "crm", direction: str = "in", platform: str = "echo"
    ) -> uuid.UUID:
        """A message received at ``at`` with one delivery created then, pending (not due for years)."""
        self.n += 2
        floor = uuid7_floor(int(at.timestamp() * 1000)).int
        message_id, delivery_id = uuid.UUID(int=floor | self.n), uuid.UUID(int=floor | (self.n + 1))
        async with self.db.transaction() as conn:
            await conn.execute(
                sa.insert(messages).values(
                    id=message_id,
                    platform=platform,
                    external_id=f"e-{message_id}",
                    direction=direction,
                    kind="text",
                    media=[],
                    timestamp=at,
                    extra={},
                    received_at=at,
                )
            )
            await conn.execute(
                sa.insert(deliveries).values(
                    id=delivery_id,
                    message_id=message_id,
                    destination=destination,
                    platform=platform,
                    status="pending",
                    max_attempts=5,
                    options={},
                    idempotency_key=f"k-{message_id}",
                    created_at=at,
                    updated_at=at,
                    next_attempt_at=NEVER,
                )
            )
        return delivery_id

    async def attempt(self, delivery_id: uuid.UUID, at: datetime, outcome: str) -> None:
        """An attempt started at ``at`` ending in ``outcome``, and the delivery's new status."""
        status = {"delivered": "delivered", "retry": "retrying", "dead": "dead"}[outcome]
        async with self.db.transaction() as conn:
            number = await conn.scalar(sa.select(sa.func.count()).where(delivery_attempts.c.delivery_id == delivery_id))
            await conn.execute(
                sa.insert(delivery_attempts).values(
                    delivery_id=delivery_id, number=number + 1, started_at=at, duration_ms=150.0, outcome=outcome
                )
            )
            await self.set_status(delivery_id, status, conn=conn, at=at)

    async def set_status(self, delivery_id: uuid.UUID, status: str, *, conn: Any = None, at: datetime = NOW) -> None:
        values = {
            "status": status,
            "updated_at": at,
            "delivered_at": at if status == "delivered" else None,
            "next_attempt_at": NEVER if status in ("pending", "queued", "retrying") else None,
        }
        if conn is None:
            async with self.db.transaction() as conn:
                await conn.execute(sa.update(deliveries).where(deliveries.c.id == delivery_id).values(**values))
        else:
            await conn.execute(sa.update(deliveries).where(deliveries.c.id == delivery_id).values(**values))

    async def delete(self, delivery_id: uuid.UUID) -> None:
        """Delete a delivery (its attempts go with it), as ``DELETE /api/deliveries/{id}`` does."""
        async with self.db.transaction() as conn:
            await conn.execute(sa.delete(deliveries).where(deliveries.c.id == delivery_id))


async def seed_history(seed: Seed) -> dict[str, uuid.UUID]:
    """A day of traffic over three destinations, with retries, dead ones requeued, and a delete."""
    h = [CURRENT - timedelta(hours=i) for i in range(25)]  # h[0]: the current hour, h[i]: i hours ago
    ids: dict[str, uuid.UUID] = {}
    for i in range(1, 20, 3):
        for k, destination in enumerate(("crm", "sheet", "dhis2:national")):
            d = await seed.delivery(h[i] + timedelta(minutes=5 + k), destination=destination, platform=f"p{k}")
            await seed.attempt(d, h[i] + timedelta(minutes=6 + k), "delivered" if k != 2 else "retry")
    await seed.delivery(h[3] + timedelta(minutes=30), direction="out", destination="sheet")
    # Retried over hours, then dead, then requeued by an operator and delivered later.
    ids["requeued"] = d = await seed.delivery(h[8] + timedelta(minutes=59, seconds=59))
    await seed.attempt(d, h[8] + timedelta(minutes=59, seconds=59, milliseconds=500), "retry")
    await seed.attempt(d, h[6] + timedelta(minutes=10), "dead")
    await seed.set_status(d, "queued", at=h[5])
    await seed.attempt(d, h[2] + timedelta(minutes=1), "delivered")
    # Dead, and still dead: a requeue comes after the rollup.
    ids["dead"] = d = await seed.delivery(h[5] + timedelta(minutes=20), destination="sheet")
    await seed.attempt(d, h[5] + timedelta(minutes=21), "dead")
    # Deleted before any rollup: counted nowhere.
    gone = await seed.delivery(h[4] + timedelta(minutes=40), destination="crm")
    await seed.attempt(gone, h[4] + timedelta(minutes=41), "dead")
    await seed.delete(gone)
    # Delivered a few minutes ago, after being created in a closed hour.
    ids["late"] = d = await seed.delivery(h[1] + timedelta(minutes=50))
    await seed.attempt(d, h[0] + timedelta(minutes=2), "delivered")
    # Before the window.
    d = await seed.delivery(h[24] - timedelta(minutes=1), destination="crm")
    await seed.attempt(d, h[24] - timedelta(seconds=30), "dead")
    return ids


def _figures(s: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in s.items() if k != "rollup"}


async def _counted_live(conn: Any, hours: list[datetime]) -> list[tuple[datetime, str, str, int]]:
    rows = []
    for hour in hours:
        rows += [(hour, m, n, c) for m, n, c in await rollup.hour_counts(conn, hour, hour + rollup.HOUR)]
    return sorted(rows)


async def _stored(client: GatewayClient) -> list[tuple[datetime, str, str, int]]:
    async with client.gateway.db.transaction() as conn:
        rows = await conn.execute(
            sa.select(rollup_counts.c.hour, rollup_counts.c.metric, rollup_counts.c.name, rollup_counts.c.count)
        )
        return sorted((r.hour, r.metric, r.name, int(r.count)) for r in rows)


async def test_the_rollup_of_each_hour_equals_what_the_tables_say(client: GatewayClient) -> None:
    seed = Seed(client)
    await seed_history(seed)
    assert await rollup.roll_up(client.gateway.db, now=NOW) > 0
    async with client.gateway.db.transaction() as conn:
        hours = sorted(await conn.scalars(sa.select(rollup_hours.c.hour)))
        live = await _counted_live(conn, hours)
    # Every closed hour from the oldest row's to the last one past the margin; not the current hour.
    assert hours[0] == CURRENT - timedelta(hours=25) and hours[-1] == CURRENT - timedelta(hours=1)
    assert len(hours) == 25
    assert await _stored(client) == live
    # The requeued delivery's story: a retry, a dead and a delivered attempt, each in its hour.
    outcomes = [(h, m) for h, m, n, _ in live if n == "crm" and m in ("retry", "dead")]
    assert (CURRENT - timedelta(hours=8), "retry") in outcomes and (CURRENT - timedelta(hours=6), "dead") in outcomes


async def test_the_summary_from_the_rollup_equals_the_summary_counted_live(client: GatewayClient) -> None:
    seed = Seed(client)
    ids = await seed_history(seed)
    live = await summary(client.gateway.db, "24h", now=NOW, use_rollup=False)
    await rollup.roll_up(client.gateway.db, now=NOW)
    rolled = await summary(client.gateway.db, "24h", now=NOW)
    assert rolled["rollup"] == {"hours": 24, "rolled": 23} and live["rollup"]["rolled"] == 0
    assert _figures(rolled) == _figures(live)
    assert rolled["attempts"] == {"delivered": 16, "retry": 8, "dead": 2}
    # The deleted delivery's message stays: received, but no delivery or attempt of it counts.
    assert rolled["created"] == 25 and rolled["messages"] == {"total": 26, "in": 25, "out": 1}
    # Statuses change after their hours closed: an operator requeues the dead one, it is delivered
    # in the current hour; a delivered one is requeued and waits. The closed hours stay right.
    await seed.set_status(ids["dead"], "queued")
    await seed.attempt(ids["dead"], NOW - timedelta(minutes=5), "delivered")
    await seed.set_status(ids["late"], "queued")
    later = NOW + timedelta(minutes=2)
    for window in ("24h", "7d"):
        rolled = await summary(client.gateway.db, window, now=later)
        assert _figures(rolled) == _figures(await summary(client.gateway.db, window, now=later, use_rollup=False))
    assert rolled["attempts"]["delivered"] == 17 and rolled["deliveries"]["queued"] == 1


async def test_the_7d_window_adds_rolled_hours_to_live_ones_in_six_hour_buckets(client: GatewayClient) -> None:
    await seed_history(Seed(client))
    # Only the newest five hours are rolled up: the rest of the window is counted live.
    assert await rollup.roll_up(client.gateway.db, now=NOW, max_hours=5) == 5
    rolled = await summary(client.gateway.db, "7d", now=NOW)
    assert rolled["rollup"] == {"hours": 168, "rolled": 5}
    assert _figures(rolled) == _figures(await summary(client.gateway.db, "7d", now=NOW, use_rollup=False))
    assert len(rolled["volume"]) == 28 and sum(v["deliveries"] for v in rolled["volume"]) == 26


async def test_a_rolled_up_hour_keeps_its_counts_when_its_rows_are_deleted(client: GatewayClient) -> None:
    seed = Seed(client)
    hour = CURRENT - timedelta(hours=3)
    d = await seed.delivery(hour + timedelta(minutes=1))
    await seed.attempt(d, hour + timedelta(minutes=2), "dead")
    await rollup.roll_up(client.gateway.db, now=NOW)
    await seed.delete(d)  # or a purge of dead deliveries
    rolled = await summary(client.gateway.db, "24h", now=NOW)
    live = await summary(client.gateway.db, "24h", now=NOW, use_rollup=False)
    assert rolled["created"] == 1 and rolled["attempts"]["dead"] == 1
    assert live["created"] == 0 and live["attempts"]["dead"] == 0


async def test_an_hour_is_rolled_up_only_after_its_margin(client: GatewayClient) -> None:
    seed = Seed(client)
    await seed.delivery(CURRENT - timedelta(minutes=1))
    margin = timedelta(minutes=5)
    assert await rollup.roll_up(client.gateway.db, now=CURRENT + timedelta(minutes=4), margin=margin) == 0
    assert await rollup.roll_up(client.gateway.db, now=CURRENT + margin, margin=margin) == 1
    assert rollup.margin_for(120) == margin and rollup.margin_for(600) == timedelta(minutes=11)


async def test_concurrent_runs_write_one_row_set(client: GatewayClient) -> None:
    await seed_history(Seed(client))
    db = client.gateway.db
    done = await asyncio.gather(*(rollup.roll_up(db, now=NOW) for _ in range(3)))
    assert sum(done) == 25
    async with db.transaction() as conn:
        hours = list(await conn.scalars(sa.select(rollup_hours.c.hour)))
        expected = await _counted_live(conn, hours)
    assert len(hours) == 25 and await _stored(client) == expected
    assert not await rollup.roll_hour(db, CURRENT - timedelta(hours=2), now=NOW)


async def test_a_backfill_goes_newest_first_in_bounded_chunks(client: GatewayClient) -> None:
    await seed_history(Seed(client))
    db = client.gateway.db
    assert [await rollup.roll_up(db, now=NOW, max_hours=10) for _ in range(4)] == [10, 10, 5, 0]
    first = await rollup.hours_to_roll(db, now=NOW + timedelta(hours=2))
    assert first == [CURRENT + timedelta(hours=1), CURRENT]


async def test_rollups_older_than_their_retention_are_purged(client: GatewayClient) -> None:
    seed = Seed(client)
    await seed.delivery(NOW - timedelta(days=5))
    await seed.delivery(NOW - timedelta(days=2))
    db = client.gateway.db
    # A backfill goes back no further than the retention (here 3 days).
    assert await rollup.roll_up(db, now=NOW, max_hours=1000, days=3) == 3 * 24
    assert await rollup.roll_hour(db, rollup.hour_floor(NOW - timedelta(days=5)), now=NOW)
    assert await rollup.purge_rollups(db, now=NOW, days=3) == 1
    assert await rollup.purge_rollups(db, now=NOW + timedelta(days=1), days=3) == 24
    async with db.transaction() as conn:
        oldest = await conn.scalar(sa.select(sa.func.min(rollup_counts.c.hour)))
    assert oldest == rollup.hour_floor(NOW - timedelta(days=2))


async def test_the_cron_job_rolls_up_and_is_recorded(client: GatewayClient) -> None:
    gateway = client.gateway
    seed = Seed(client)
    now = datetime.now(UTC)
    await seed.delivery(now - timedelta(hours=3))
    job = next(j for j in gateway.cron_jobs() if j.name == "dashboard_rollup")
    assert job.every == 300
    await job_runs.run_recorded(gateway, job, {"gateway": gateway}, trigger="manual")
    # The job is off (``rollup_off``): its scheduled ticks are recorded skipped, "disabled"; this run is by hand.
    (run,) = [r for r in await job_runs.last_runs(gateway.db, "dashboard_rollup") if r["trigger"] == "manual"]
    assert run["outcome"] == "succeeded" and run["rows"] >= 2
