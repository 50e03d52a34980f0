"""The in-process queue keeps a retry that a worker schedules while it still holds the delivery."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.gateway import Gateway
from core.queue.local import LocalQueue
from core.testing import make_settings


async def test_a_retry_scheduled_while_the_delivery_is_held_gets_its_timer(tmp_path: Path) -> None:
    gateway = Gateway(make_settings(tmp_path))
    queue = LocalQueue(gateway)
    queue._consume = True
    delivery_id = uuid.uuid4()
    queue._queued.add(delivery_id)  # a worker is running its attempt
    try:
        await queue.enqueue([(delivery_id, 1)], at=datetime.now(UTC) + timedelta(seconds=30))
        assert delivery_id in queue._timers
    finally:
        for timer in queue._timers.values():
            timer.cancel()
        await gateway.db.close()
