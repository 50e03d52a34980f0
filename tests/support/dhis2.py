"""Helpers of the DHIS2 plugin's tests: settling deliveries with their retries, importing mappings."""

from __future__ import annotations

from typing import Any

from core import DeliveryStatus, Gateway
from core.testing import attempts, delivery_statuses, drain, settle, user_headers, wait_until
from tests.support.mapping_files import ROWS, csv_bytes, upload

UNFINISHED = (DeliveryStatus.PENDING, DeliveryStatus.QUEUED, DeliveryStatus.RETRYING, DeliveryStatus.RUNNING)


async def settled(gateway: Gateway, *, timeout: float = 30.0) -> dict[str, int]:
    """Run deliveries, retries included, until none is waiting; the count of each status."""

    async def finished() -> bool:
        statuses = await settle(gateway, timeout=timeout)
        return not any(statuses.get(s) for s in UNFINISHED)

    await wait_until(finished, timeout=timeout, message="every delivery to finish, retries included")
    return await delivery_statuses(gateway)


async def import_mappings(client: Any, rows: list[list[Any]] | None = None) -> None:
    """The standard mapping file of tests/support/mapping_files.py, imported."""
    headers = await user_headers(client.gateway, "operator")
    response = await client.post(
        "/plugins/dhis2/mappings/import", files=upload(csv_bytes(rows or ROWS)), headers=headers
    )
    assert response.status_code == 200, response.text


async def first_attempt(gateway: Gateway, delivery_id: str, *, timeout: float = 10.0) -> Any:
    """Make (or wait for) the delivery's first attempt, without running its retries; that attempt."""
    await drain(gateway)
    made = await wait_until(
        lambda: attempts(gateway, delivery_id), timeout=timeout, interval=0.02, message="the delivery's first attempt"
    )
    return made[0]
