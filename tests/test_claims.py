"""Claims: a delivery is attempted once per claim, however many queue items name it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from core import StandardMessage
from core.gateway import Gateway
from tests.support.pipeline import sink_gateway


@pytest.fixture
async def gateway(clean_stack) -> AsyncIterator[Gateway]:  # type: ignore[no-untyped-def]
    async with sink_gateway(clean_stack, "claims") as gw:
        yield gw


async def one_delivery(gw: Gateway) -> object:
    [stored] = await gw.ingest.submit([StandardMessage(platform="claims", external_id="c1", kind="text", text="x")])
    [delivery_id] = stored.delivery_ids
    return delivery_id


async def test_an_id_named_twice_in_one_claim_batch_is_claimed_once(gateway: Gateway) -> None:
    """The sweeper and a retry's job can both hand a worker the same id; one of them may attempt it."""
    delivery_id = await one_delivery(gateway)
    claims = await gateway.deliveries._claim_batch([delivery_id, delivery_id])  # type: ignore[list-item]
    assert claims[0] is not None and claims[0].info.id == delivery_id
    assert claims[1] is None


async def test_the_stores_claim_an_id_once_whatever_the_caller_asks(gateway: Gateway) -> None:
    delivery_id = await one_delivery(gateway)
    now = datetime.now(UTC)
    claims = await gateway.deliveries.store.claim([delivery_id, delivery_id], now, now + timedelta(seconds=60))  # type: ignore[list-item]
    assert [c is not None for c in claims] == [True, False]
