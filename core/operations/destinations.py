"""Each destination's circuit breaker as operators see it; pause and resume by hand.

One service for ``/api/destinations`` and the console's "Destinations and jobs" page.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.auth.permissions import Principal
from core.errors import Conflict, NotFound
from core.pipeline.breaker import HELD, State, states
from core.pipeline.sweeper import release_backlog

if TYPE_CHECKING:
    from core.gateway import Gateway


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def describe(gateway: Gateway, name: str, row: dict[str, Any] | None) -> dict[str, Any]:
    """A destination's breaker: state, failure streak, last success and error, paused since and by whom."""
    policy = gateway.settings.delivery.breaker.policy(name)
    row = row or {}
    return {
        "name": name,
        "configured": name in gateway.destinations,
        "state": row.get("state", State.CLOSED.value),
        "failure_streak": row.get("failure_streak", 0),
        "last_success_at": _time(row.get("last_success_at")),
        "last_failure_at": _time(row.get("last_failure_at")),
        "last_error": row.get("last_error"),
        "paused_since": _time(row.get("paused_since")),
        "paused_by": row.get("paused_by"),
        "next_probe_at": _time(row.get("probe_at")) if row.get("state") == State.OPEN else None,
        "cooldown": row.get("cooldown"),
        "breaker": policy.model_dump(),
    }


async def list_destinations(gateway: Gateway) -> list[dict[str, Any]]:
    """Every destination, configured or with a breaker row, sorted by name."""
    async with gateway.db.transaction() as conn:
        rows = await states(conn)
    return [describe(gateway, n, rows.get(n)) for n in sorted({*gateway.destinations, *rows})]


async def held_destinations(gateway: Gateway) -> list[dict[str, Any]]:
    """The destinations whose deliveries are held back now (paused, or the breaker open or probing)."""
    async with gateway.db.transaction() as conn:
        rows = await states(conn)
    return [describe(gateway, n, row) for n, row in sorted(rows.items()) if row.get("state") in HELD]


async def get_destination(gateway: Gateway, name: str) -> dict[str, Any]:
    """One destination's breaker; ``NotFound`` when it is neither configured nor known."""
    async with gateway.db.transaction() as conn:
        rows = await states(conn)
    if name not in gateway.destinations and name not in rows:
        raise NotFound("no such destination")
    return describe(gateway, name, rows.get(name))


async def pause(gateway: Gateway, name: str, by: Principal) -> dict[str, Any]:
    """Hold back every delivery to the destination until it is resumed; ``Conflict`` if already paused."""
    await get_destination(gateway, name)
    if not await gateway.deliveries.breaker.pause(name, by=by.label, actor_type=by.kind):
        raise Conflict("the destination is already paused")
    return await get_destination(gateway, name)


async def resume(gateway: Gateway, name: str, by: Principal) -> dict[str, Any]:
    """Close the destination's breaker and release its backlog; ``Conflict`` if it is not paused."""
    await get_destination(gateway, name)
    if not await gateway.deliveries.breaker.resume(name, by=by.label, actor_type=by.kind):
        raise Conflict("the destination is not paused")
    await release_backlog(gateway, name)
    return await get_destination(gateway, name)
