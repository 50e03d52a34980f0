"""``/plugins/ceemis/cases/{reference}``: what became of a helpline case and its updates."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core import Gateway, NotFound, requires
from plugins.ceemis import store

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


def _gateway(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


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


@requires("viewer", scopes=["ceemis:read"])
async def case_status(request: Request) -> Response:
    """A case's state (received, queued, delivered with the CEEMIS id, failed with the reason) and
    its updates, by any reference: the helpline's src_uid or src_callid, the gateway's message id,
    or the CEEMIS id."""
    reference = request.path_params["reference"]
    async with _gateway(request).db.transaction() as conn:
        case = await store.find_case(conn, reference)
        updates = await store.updates_of(conn, store.references(case, reference))
    if case is None and not updates:
        raise NotFound(f"no case is known by {reference!r}")
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
    return JSONResponse(body)


def ceemis_routes() -> list[BaseRoute]:
    """The plugin's routes (mounted under ``/plugins/ceemis``)."""
    return [Route("/cases/{reference}", case_status, methods=["GET"])]
