"""The dashboard's figures (``core.operations.summary``) over rows stamped at known times."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from core.operations.summary import summary
from core.storage.ids import uuid7_floor
from core.storage.models import deliveries, delivery_attempts, messages
from core.testing import GatewayClient

NOW = datetime(2026, 11, 29, 12, 30, tzinfo=UTC)
# Waiting deliveries are due only then, so the app's own worker never claims them during a test.
NEVER = datetime.now(UTC) + timedelta(days=3650)


@pytest.fixture(autouse=True)
async def no_background_rollup(rollup_off: None) -> None:
    """The rollup job stays off: rows are stamped in hours the real clock may have closed."""


def _id(at: datetime, n: int) -> uuid.UUID:
    return uuid.UUID(int=uuid7_floor(int(at.timestamp() * 1000)).int | n)


async def _add(
    client: GatewayClient, at: datetime, *, direction: str = "in", status: str = "delivered", destination: str = "crm"
) -> None:
    """A message received at ``at`` with one delivery created then (if waiting, not due for years).

    A delivered or dead delivery has its one attempt, started at ``at``.
    """
    n = hash((at, direction, status, destination)) & 0xFFFFFF
    message_id = _id(at, n)
    async with client.gateway.db.transaction() as conn:
        await conn.execute(
            sa.insert(messages).values(
                id=message_id,
                platform="echo",
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
                id=_id(at, n + 1),
                message_id=message_id,
                destination=destination,
                platform="echo",
                status=status,
                attempt_count=1,
                max_attempts=5,
                options={},
                idempotency_key=f"k-{message_id}",
                created_at=at,
                updated_at=at,
                delivered_at=at + timedelta(seconds=2) if status == "delivered" else None,
                next_attempt_at=NEVER if status in ("pending", "queued", "retrying") else None,
            )
        )
        if status in ("delivered", "dead"):
            await conn.execute(
                sa.insert(delivery_attempts).values(
                    delivery_id=_id(at, n + 1), number=1, started_at=at, duration_ms=2000.0, outcome=status
                )
            )


async def test_the_window_counts_messages_by_direction_and_attempt_outcomes_by_destination(
    client: GatewayClient,
) -> None:
    await _add(client, NOW - timedelta(hours=1), status="delivered", destination="crm")
    await _add(client, NOW - timedelta(hours=2), direction="out", status="dead", destination="crm")
    await _add(client, NOW - timedelta(hours=3), status="delivered", destination="sheet")
    await _add(client, NOW - timedelta(hours=30), status="dead", destination="sheet")  # before the window
    s = await summary(client.gateway.db, "24h", now=NOW)
    assert s["messages"] == {"total": 3, "in": 2, "out": 1}
    assert s["deliveries"]["delivered"] == 2 and s["deliveries"]["dead"] == 1
    assert s["created"] == 3 and s["attempts"] == {"delivered": 2, "retry": 0, "dead": 1}
    assert s["destinations"] == [
        {"destination": "crm", "created": 2, "delivered": 1, "retries": 0, "dead": 1, "success_rate": 0.5},
        {"destination": "sheet", "created": 1, "delivered": 1, "retries": 0, "dead": 0, "success_rate": 1.0},
    ]


async def test_the_window_is_this_hour_and_the_ones_before_it(client: GatewayClient) -> None:
    current = NOW.replace(minute=0)
    await _add(client, current - timedelta(hours=23))  # the window's first hour
    await _add(client, current - timedelta(hours=23, seconds=1))  # the hour before it
    s = await summary(client.gateway.db, "24h", now=NOW)
    assert s["since"] == (current - timedelta(hours=23)).isoformat()
    assert s["messages"]["total"] == 1 and s["rollup"] == {"hours": 24, "rolled": 0}


async def test_the_volume_chart_puts_each_row_in_the_bucket_of_its_time(client: GatewayClient) -> None:
    since = NOW.replace(minute=0) - timedelta(hours=23)
    await _add(client, since + timedelta(minutes=10))
    await _add(client, since + timedelta(hours=5, minutes=59))
    await _add(client, since + timedelta(hours=5, minutes=30), direction="out")
    await _add(client, NOW - timedelta(minutes=1))
    volume = (await summary(client.gateway.db, "24h", now=NOW))["volume"]
    assert len(volume) == 24 and volume[0]["at"] == since.isoformat()
    assert [(i, v["messages"], v["deliveries"]) for i, v in enumerate(volume) if v["messages"]] == [
        (0, 1, 1),
        (5, 2, 2),
        (23, 1, 1),
    ]


async def test_the_seven_day_window_has_six_hour_buckets(client: GatewayClient) -> None:
    await _add(client, NOW - timedelta(days=6, hours=20))  # 3.5 h into the window
    await _add(client, NOW - timedelta(days=8))  # before the window
    s = await summary(client.gateway.db, "7d", now=NOW)
    assert len(s["volume"]) == 28 and s["messages"]["total"] == 1
    assert [i for i, v in enumerate(s["volume"]) if v["deliveries"]] == [0]


async def test_the_queue_counts_waiting_deliveries_and_names_the_oldest(client: GatewayClient) -> None:
    oldest = NOW - timedelta(days=40)
    await _add(client, oldest, status="retrying")
    await _add(client, NOW - timedelta(days=3), status="queued")
    await _add(client, NOW - timedelta(hours=1), status="pending")
    await _add(client, NOW - timedelta(days=50), status="dead")
    queue = (await summary(client.gateway.db, "24h", now=NOW))["queue"]
    assert queue == {"depth": 3, "oldest_pending_at": oldest.isoformat()}


async def test_statuses_are_counted_now_and_outcomes_in_the_window(client: GatewayClient) -> None:
    await _add(client, NOW - timedelta(days=3), status="retrying")  # waiting now, created before the window
    await _add(client, NOW - timedelta(hours=2), status="cancelled")
    await _add(client, NOW - timedelta(days=3), status="cancelled")  # cancelled, but created before the window
    await _add(client, NOW - timedelta(days=3), status="dead")  # its attempt is before the window
    s = await summary(client.gateway.db, "24h", now=NOW)
    assert s["deliveries"] == {
        "pending": 0,
        "queued": 0,
        "running": 0,
        "retrying": 1,
        "delivered": 0,
        "dead": 0,
        "cancelled": 1,
    }
