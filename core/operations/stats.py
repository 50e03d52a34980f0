"""Read-only figures over the pipeline's tables: how much is waiting, and for how long."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from core.pipeline.statuses import WAITING
from core.storage.models import deliveries

if TYPE_CHECKING:
    from core.storage.db import Database


async def queue_state(db: Database) -> dict[str, Any]:
    """Deliveries waiting, by status, and the age in seconds of the oldest one that is due.

    Both read the ``(status, next_attempt_at)`` index, so a scrape stays cheap under a backlog.
    """
    now = datetime.now(UTC)
    async with db.transaction() as conn:
        counts = {
            str(status): int(n)
            for status, n in await conn.execute(
                sa.select(deliveries.c.status, sa.func.count())
                .where(deliveries.c.status.in_(WAITING))
                .group_by(deliveries.c.status)
            )
        }
        oldest = await conn.scalar(
            sa.select(sa.func.min(deliveries.c.next_attempt_at)).where(
                deliveries.c.status.in_(WAITING), deliveries.c.next_attempt_at <= now
            )
        )
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return {
        "waiting": {str(s): counts.get(str(s), 0) for s in WAITING},
        "oldest_due_seconds": max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0,
    }
