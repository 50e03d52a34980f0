"""What became of a helpline case and its updates: the answer of ``/plugins/ceemis/cases/{reference}``
and of the console's case lookup, from one place."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from core import Gateway, count_at_most, keyset_page
from plugins.ceemis import store
from plugins.ceemis.models import cases

# What the caller is told, from the row's own state.
_PUBLIC_STATE = {
    "received": "received",
    "queued": "queued",
    "sending": "queued",
    "retrying": "queued",
    "waiting": "queued",
    "delivered": "delivered",
    "failed": "failed",
}


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _update(row: sa.Row[Any]) -> dict[str, Any]:
    state = _PUBLIC_STATE.get(row.state, row.state)
    return {
        "message_id": str(row.message_id),
        "ref": row.ref,
        "status": row.status,
        "state": state,
        "reason": row.last_error if state != "delivered" else None,
        "attempts": row.attempts,
        "received_at": _time(row.received_at),
        "delivered_at": _time(row.delivered_at),
    }


async def case_report(gateway: Gateway, reference: str) -> dict[str, Any] | None:
    """A case's state (received, queued, delivered with the CEEMIS id, failed with the reason) and
    its updates in the order received, by any reference: the helpline's src_uid or src_callid, the
    gateway's message id, or the CEEMIS id. ``None`` when nothing is known by ``reference``."""
    async with gateway.db.transaction() as conn:
        case = await store.find_case(conn, reference)
        updates = await store.updates_of(conn, store.references(case, reference))
    if case is None and not updates:
        return None
    body: dict[str, Any] = {"reference": reference}
    if case is None:
        # Updates of a case made outside the gateway, named by its CEEMIS id.
        body |= {"state": "delivered", "ceemis_id": reference, "reason": None, "created_elsewhere": True}
    else:
        state = _PUBLIC_STATE.get(case.state, case.state)
        body |= {
            "state": state,
            "ceemis_id": case.ceemis_id,
            "reason": case.last_error if state != "delivered" else None,
            "message_id": str(case.message_id),
            "src": case.src,
            "src_uid": case.src_uid,
            "src_callid": case.src_callid,
            "attempts": case.attempts,
            "received_at": _time(case.received_at),
            "delivered_at": _time(case.delivered_at),
        }
    body["updates"] = [_update(u) for u in updates]
    return body


async def recent_cases(
    gateway: Gateway, *, limit: int, cursor: int | None = None, before: int | None = None
) -> dict[str, Any]:
    """The latest cases received, newest first, a keyset page on their row number: those after
    ``cursor`` (older), or just before ``before`` (newer). ``{"items", "next", "previous", "total"}``:
    ``next`` and ``previous`` are the ``cursor`` and ``before`` of the older and newer pages
    (``None`` at either end); ``total`` counts every case up to a bound (``core.count_at_most``)."""
    async with gateway.db.transaction() as conn:
        page = await keyset_page(conn, store.all_cases(), cases.c.id, limit=limit, cursor=cursor, before=before)
        total = await count_at_most(conn, sa.select(cases.c.id))
    items = [
        {
            "message_id": str(r.message_id),
            "src": r.src,
            "src_uid": r.src_uid,
            "src_callid": r.src_callid,
            "ceemis_id": r.ceemis_id,
            "state": _PUBLIC_STATE.get(r.state, r.state),
            "received_at": _time(r.received_at),
        }
        for r in page.rows
    ]
    return {"items": items, "next": page.next, "previous": page.previous, "total": total}
