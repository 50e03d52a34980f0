"""The states of a delivery, and which of them a worker may claim.

pending/queued ──claim──▶ running ──▶ delivered
      ▲                     │ ╲
      │                     │  ╲──▶ dead (permanent failure, or attempts used up)
      └──── retrying ◀──────┘
any waiting state ──cancel──▶ cancelled;  dead/cancelled/retrying ──requeue──▶ queued
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa

from core.storage.models import deliveries


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    DEAD = "dead"
    CANCELLED = "cancelled"


# Waiting for an attempt (at ``next_attempt_at``).
WAITING: tuple[DeliveryStatus, ...] = (DeliveryStatus.PENDING, DeliveryStatus.QUEUED, DeliveryStatus.RETRYING)
# Finished: nothing more will happen unless someone requeues.
FINAL: tuple[DeliveryStatus, ...] = (DeliveryStatus.DELIVERED, DeliveryStatus.DEAD, DeliveryStatus.CANCELLED)
# What an operator may requeue (everything but running and delivered).
REQUEUEABLE: tuple[DeliveryStatus, ...] = (DeliveryStatus.DEAD, DeliveryStatus.CANCELLED, *WAITING)


def claimable(now: datetime, *, due_by: datetime | None = None) -> sa.ColumnElement[bool]:
    """Waiting and due by ``due_by`` (default ``now``), or running under a lease that ran out at ``now``.

    The one statement of the rule: the claim uses it with ``now``; the sweeper with an earlier
    ``due_by`` so that what a queue still holds is left to it. (PostgreSQL's raw claim in
    ``delivery_store`` spells the same rule in SQL, built from these names.)
    """
    due = due_by or now
    return sa.or_(
        sa.and_(
            deliveries.c.status.in_(WAITING),
            sa.or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= due),
        ),
        sa.and_(deliveries.c.status == DeliveryStatus.RUNNING, deliveries.c.lease_until < now),
    )


def sql_list(statuses: tuple[DeliveryStatus, ...]) -> str:
    """``'a', 'b'``: the statuses as an SQL list, for the raw statements."""
    return ", ".join(f"'{s.value}'" for s in statuses)
