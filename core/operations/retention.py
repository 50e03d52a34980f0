"""Retention of personal data: ``[privacy.retention]`` days per platform (docs/privacy.md, "Retention").

The ``privacy_retention`` cron job erases the content and identifiers of every message older
than its platform's retention, and of its deliveries (``core.operations.erasure``: rows, kinds,
states, times and counts stay, so the dashboard and volume reports still add up), and
anonymises conversations quiet for as long. Message ids are time-ordered (uuid7): the job walks
a platform's messages by id from where its last run stopped (``privacy_retention``), so a run
reads only messages it has not erased yet, however many it erased before.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from core.operations.erasure import CHUNK, erase_conversations, erase_messages
from core.operations.repair import cancel_rows
from core.storage.db import among
from core.storage.ids import uuid7_floor
from core.storage.models import conversations, deliveries, messages, privacy_retention

if TYPE_CHECKING:
    from core.gateway import Gateway

log = logging.getLogger("switchboard.privacy")
# The reason a delivery still waiting when its message's content is erased is cancelled with.
EXPIRED = "retention"


async def _mark(gateway: Gateway, platform: str) -> uuid.UUID | None:
    async with gateway.db.transaction() as conn:
        found: uuid.UUID | None = await conn.scalar(
            sa.select(privacy_retention.c.erased_through).where(privacy_retention.c.platform == platform)
        )
    return found


async def _save_mark(gateway: Gateway, platform: str, mark: uuid.UUID) -> None:
    now = datetime.now(UTC)
    async with gateway.db.transaction() as conn:
        result = await conn.execute(
            sa.update(privacy_retention)
            .where(privacy_retention.c.platform == platform)
            .values(erased_through=mark, updated_at=now)
        )
        if not result.rowcount:
            await conn.execute(
                sa.insert(privacy_retention).values(platform=platform, erased_through=mark, updated_at=now)
            )


async def expire_platform(gateway: Gateway, platform: str, days: int, now: datetime | None = None) -> Counter[str]:
    """Erase the content of ``platform``'s messages older than ``days`` days; rows changed per table."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    floor = uuid7_floor(int(cutoff.timestamp() * 1000))
    counts: Counter[str] = Counter()
    mark = await _mark(gateway, platform)
    while True:
        query = sa.select(messages.c.id, messages.c.received_at).where(
            messages.c.platform == platform, messages.c.id < floor
        )
        if mark is not None:
            query = query.where(messages.c.id > mark)
        async with gateway.db.transaction() as conn:
            rows = list(await conn.execute(query.order_by(messages.c.id).limit(CHUNK)))
        if not rows:
            break
        # An id is made when the message is received; should a clock have disagreed, the walk
        # stops before the first message not old enough, to take it up on a later run.
        young = next((i for i, r in enumerate(rows) if r.received_at >= cutoff), None)
        done = rows if young is None else rows[:young]
        ids = [r.id for r in done]
        async with gateway.db.transaction() as conn:
            counts["cancelled_deliveries"] += len(
                await cancel_rows(conn, among(deliveries.c.message_id, ids), reason=EXPIRED)
            )
        counts.update(await erase_messages(gateway, ids, "retention"))
        if not done:
            break
        mark = done[-1].id
        await _save_mark(gateway, platform, mark)
        if young is not None:
            break
    async with gateway.db.transaction() as conn:
        counts["conversations"] += await erase_conversations(
            conn, sa.and_(conversations.c.platform == platform, conversations.c.last_message_at < cutoff)
        )
    return counts


async def expire(gateway: Gateway, now: datetime | None = None) -> int:
    """One run of the retention job over every platform with a retention; rows changed in all."""
    total = 0
    for platform, days in sorted(gateway.settings.privacy.retention.items()):
        counts = await expire_platform(gateway, platform, days, now)
        changed = sum(counts.values())
        if changed:
            log.info("retention (%s, %d days) erased %s", platform, days, dict(sorted(counts.items())))
        total += changed
    return total
