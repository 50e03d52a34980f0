"""The delivery engine's batched statements on PostgreSQL, as raw asyncpg.

JSON columns come back decoded (SQLAlchemy's pool sets the connection's jsonb codec); rows go
in as one JSON document per table (``core.storage.db.json_rows``). A batch of claims is one statement (claim the due deliveries and read their messages); a
batch of outcomes is one statement (update the deliveries, insert the attempts and the audit
rows, data-modifying WITHs). Each is atomic on its own, so neither needs BEGIN/COMMIT round
trips, and SQLAlchemy's per-statement compilation (a third of the worker's CPU) is skipped.
SQLite runs the SQLAlchemy versions of the same statements in ``core.pipeline.deliveries``.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

from core.storage.db import column_list, json_rows, recordset
from core.storage.models import audit_log, deliveries, delivery_attempts

# The columns a claim returns, as claim_from_rows in core.pipeline.deliveries reads them.
CLAIMED = (
    deliveries.c.id.label("delivery_id"),
    deliveries.c.attempt_count,
    deliveries.c.max_attempts,
    deliveries.c.destination,
    deliveries.c.message_id,
    deliveries.c.idempotency_key,
    deliveries.c.created_at,
    deliveries.c.options,
    deliveries.c.detail,
)

# The deliveries are found by primary key and only then checked. ``status || ''`` keeps the
# planner off the (status, next_attempt_at) index: with statistics from before a backlog (or
# none, on a new database) it took that index as the selective one, read every due delivery
# and filtered them by id (a claim of 50 at 100,000 waiting took 15-22 ms instead of 1-1.5 ms,
# and grew with the backlog). tests/test_claim_plan.py holds it to the key.
_CLAIM = """
WITH c AS (
  UPDATE deliveries SET status = 'running', attempt_count = attempt_count + 1, lease_until = $2, updated_at = $3
  WHERE id = ANY($1::uuid[]) AND (
    ((status || '') IN ('pending', 'queued', 'retrying') AND (next_attempt_at IS NULL OR next_attempt_at <= $3))
    OR ((status || '') = 'running' AND lease_until < $3))
  RETURNING id AS delivery_id, attempt_count, max_attempts, destination, message_id, idempotency_key, created_at,
            options, detail
)
SELECT c.*, m.id, m.platform, m.external_id, m.kind, m.direction, m.sender, m.sender_name, m.recipient, m.text,
       m.media, m.timestamp, m.raw, m.extra
FROM c JOIN messages m ON m.id = c.message_id
"""

# The outcome columns of a delivery, as (name, bound value key); their types come from the
# table ("attempt" is the attempt_count the worker claimed).
_OUTCOME = (
    ("id", "b_id"),
    ("attempt", "b_attempt"),
    ("status", "b_status"),
    ("next_attempt_at", "b_next_attempt_at"),
    ("last_error", "b_last_error"),
    ("last_status_code", "b_last_status_code"),
    ("detail", "b_detail"),
    ("remote_ref", "b_remote_ref"),
    ("delivered_at", "b_delivered_at"),
    ("updated_at", "b_updated_at"),
)


async def claim(raw: Any, ids: list[uuid.UUID], now: datetime, lease_until: datetime) -> list[Any]:
    """Claim those of ``ids`` that are due: one record per claim, the ``CLAIMED`` columns and
    then the message's columns under their own names."""
    return list(await raw.fetch(_CLAIM, ids, lease_until, now))


@functools.cache
def _record_sql() -> str:
    outcome = recordset(deliveries, [n for n, _ in _OUTCOME if n != "attempt"], 1, "v", "attempt integer")
    attempt_names = [c.name for c in delivery_attempts.c if c.name != "id"]
    audit_names = [c.name for c in audit_log.c if c.name != "id"]
    # The deliveries are found by id through an array (an index scan whatever the planner
    # guesses of json_to_recordset's row count); a stale attempt (its lease ran out and
    # another worker re-claimed) changes nothing.
    return f"""
WITH v AS (SELECT * FROM {outcome}),
u AS (UPDATE deliveries AS d SET status = v.status, next_attempt_at = v.next_attempt_at, lease_until = NULL,
        last_error = v.last_error, last_status_code = v.last_status_code, detail = v.detail,
        remote_ref = coalesce(v.remote_ref, d.remote_ref), delivered_at = coalesce(v.delivered_at, d.delivered_at),
        updated_at = v.updated_at
      FROM v WHERE d.id = v.id AND d.id = ANY(ARRAY(SELECT id FROM v)) AND d.status = 'running'
        AND d.attempt_count = v.attempt),
a AS (INSERT INTO delivery_attempts ({column_list(attempt_names)})
      SELECT {column_list(attempt_names)} FROM {recordset(delivery_attempts, attempt_names, 2)}),
l AS (INSERT INTO audit_log ({column_list(audit_names)})
      SELECT {column_list(audit_names)} FROM {recordset(audit_log, audit_names, 3)})
SELECT 1
"""  # noqa: S608 - table and column names only


async def record(
    raw: Any, outcomes: list[dict[str, Any]], attempts: list[dict[str, Any]], audit: list[dict[str, Any]]
) -> None:
    """Write the outcomes of a batch of attempts, with their attempt and audit rows, at once."""
    await raw.execute(
        _record_sql(),
        json_rows([{name: o[key] for name, key in _OUTCOME} for o in outcomes]),
        json_rows(attempts),
        json_rows(audit),
    )
