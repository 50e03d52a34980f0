"""dhis2gw's submission logs (``/logs``), read from the compat rows and their deliveries.

A log's status follows its delivery: waiting or running → ``queued``; delivered → DHIS2's
status (``OK`` from DHIS2 2.38 on, else ``SUCCESS``); dead, cancelled or never sent → ``failed``.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import (
    Conflict,
    NotFound,
    bounded_day,
    bounded_int,
    delete_delivery,
    delivery_states,
    gateway_of,
    requires,
)
from plugins.dhis2.compat.answers import error, go_time
from plugins.dhis2.models import dhis2gw_submissions as table

if TYPE_CHECKING:
    from plugins.dhis2.context import DHIS2Context

_WAITING = {"pending", "queued", "running", "retrying"}
_FINAL = {"delivered", "dead", "cancelled"}


def log_status(state: dict[str, Any] | None) -> str:
    if state is None:
        return "failed"
    if state["status"] in _WAITING:
        return "queued"
    if state["status"] == "delivered":
        detail = state.get("detail") or {}
        return "OK" if detail.get("response_shape") == "webmessage" else "SUCCESS"
    return "failed"


def _text(value: str | None) -> dict[str, Any]:
    return {"String": value or "", "Valid": value is not None}


class _BadParameter(ValueError):
    """A query parameter that is there but cannot be read: dhis2gw's 400."""


def _day(q: Any, *names: str) -> datetime | None:
    """The first of ``names`` given, as ``YYYY-MM-DD`` or RFC 3339 (dhis2gw parsed only the first).

    Absent: ``None``. Unreadable or out of range (``9999-12-31`` would overflow once its day is
    added): a 400 naming the parameter.
    """
    name = next((n for n in names if q.get(n)), None)
    if name is None:
        return None
    day = bounded_day(q[name])
    if day is None:
        raise _BadParameter(f"invalid '{name}': use YYYY-MM-DD or RFC3339, years 2 to 9998")
    return day


def atoi(value: str | None, default: int) -> int:
    """Go's ``strconv.Atoi`` as dhis2gw reads ``page`` and ``page_size``: absent is the default, bad is 0.

    Beyond a 64-bit integer is bad too, as ``Atoi`` answers it with an error.
    """
    if value is None:
        return default
    number = bounded_int(value)
    return 0 if number is None else number


class LogEndpoints:
    def __init__(self, context: DHIS2Context) -> None:
        self.context = context

    def routes(self, prefix: str) -> list[Route]:
        return [
            Route(f"{prefix}/logs", self.index, methods=["GET"]),
            Route(f"{prefix}/logs/purge", self.purge, methods=["DELETE"]),
            Route(f"{prefix}/logs/{{id}}", self.one, methods=["GET"]),
            Route(f"{prefix}/logs/{{id}}", self.delete, methods=["DELETE"]),
        ]

    def _item(self, row: Any, state: dict[str, Any] | None) -> dict[str, Any]:
        response = json.dumps(state["detail"]) if state and state.get("detail") else None
        errors = row.errors if row.errors is not None else ((state or {}).get("last_error") or "")
        return {
            "id": row.id,
            "submitted_at": go_time(row.submitted_at),
            "payload": row.request,
            "status": log_status(state),
            "dhis2_payload": _text(json.dumps(state["raw"]) if state and state.get("raw") is not None else None),
            "retry_count": max(0, (state or {}).get("attempt_count", 1) - 1),
            "last_attempt": {"Time": go_time(state["updated_at"] if state else None), "Valid": state is not None},
            "task_id": _text(str(row.delivery_id) if row.delivery_id else None),
            "response": _text(response),
            "errors": _text(errors),
        }

    @requires("traffic.read", scopes=["dhis2:aggregate"], basic=True)
    async def index(self, request: Request) -> Response:
        """dhis2gw's ``GET /logs``: filters, page and page_size; ``to_date`` includes its day."""
        q = request.query_params
        conditions: list[Any] = []
        if q.get("task_id"):
            try:
                conditions.append(table.c.delivery_id == uuid.UUID(q["task_id"]))
            except ValueError:
                conditions.append(sa.false())
        if q.get("job_id"):
            job_id = bounded_int(q["job_id"])
            if job_id is None:
                return error("invalid 'job_id': a log id is a 64-bit integer", 400)
            conditions.append(table.c.id == job_id)
        try:
            day = _day(q, "submitted_at")
            start = _day(q, "from_date", "submitted_from")
            end = _day(q, "to_date", "submitted_to")
        except _BadParameter as err:
            return error(str(err), 400)
        if day is not None:
            conditions += [table.c.submitted_at >= day, table.c.submitted_at < day + timedelta(days=1)]
        if start is not None:
            conditions.append(table.c.submitted_at >= start)
        if end is not None:
            end_value = q.get("to_date") or q.get("submitted_to") or ""
            conditions.append(table.c.submitted_at < (end + timedelta(days=1) if len(end_value) == 10 else end))
        # dhis2gw echoes page as asked (0 or less reads the first page); page_size 0 or less reads 20.
        asked_page = atoi(q.get("page"), 1)
        page = min(max(asked_page, 1), 1_000_000)
        size = atoi(q.get("page_size"), 10)
        size = min(size if size > 0 else 20, 1000)
        query = sa.select(table).where(*conditions).order_by(table.c.submitted_at.desc(), table.c.id.desc())
        gateway = gateway_of(request)
        status = q.get("status")
        async with gateway.db.transaction() as conn:
            if status:
                rows = (await conn.execute(query)).all()  # status lives on the delivery: filter after reading
            else:
                total = int(
                    (await conn.execute(sa.select(sa.func.count()).select_from(table).where(*conditions))).scalar_one()
                )
                rows = (await conn.execute(query.offset((page - 1) * size).limit(size))).all()
        states = await delivery_states(gateway, [r.delivery_id for r in rows if r.delivery_id])
        items = [self._item(r, states.get(r.delivery_id) if r.delivery_id else None) for r in rows]
        if status:
            items = [i for i in items if i["status"] == status]
            total = len(items)
            items = items[(page - 1) * size : page * size]
        return JSONResponse(
            {
                "items": items or None,  # Go marshals an empty page as null
                "total": total,
                "page": asked_page,
                "total_pages": -(-total // size),
                "page_size": size,
            }
        )

    async def _row(self, request: Request) -> Any:
        log_id = bounded_int(request.path_params["id"])
        if log_id is None:
            return error("Invalid log ID", 400)
        async with gateway_of(request).db.transaction() as conn:
            row = (await conn.execute(sa.select(table).where(table.c.id == log_id))).first()
        return row if row is not None else error("Log not found", 404)

    @requires("traffic.read", scopes=["dhis2:aggregate"], basic=True)
    async def one(self, request: Request) -> Response:
        """dhis2gw's ``GET /logs/{id}``, in its flat shape."""
        row = await self._row(request)
        if isinstance(row, Response):
            return row
        states = await delivery_states(gateway_of(request), [row.delivery_id] if row.delivery_id else [])
        item = self._item(row, states.get(row.delivery_id))
        flat = {k: item[k] for k in ("id", "submitted_at", "payload", "status", "retry_count")}
        flat |= {k: item[k]["String"] for k in ("task_id", "response", "errors")}
        return JSONResponse(flat)

    @requires("deliveries.repair", scopes=["dhis2:aggregate"], basic=True)
    async def delete(self, request: Request) -> Response:
        """dhis2gw's ``DELETE /logs/{id}``: the log and its delivery (refused while it runs)."""
        row = await self._row(request)
        if isinstance(row, Response):
            return row
        gateway = gateway_of(request)
        if row.delivery_id is not None:
            try:
                await delete_delivery(gateway, row.delivery_id, request.state.principal)
            except NotFound:
                pass
            except Conflict:
                return error("Failed to delete log", 500)
        async with gateway.db.transaction() as conn:
            await conn.execute(sa.delete(table).where(table.c.id == row.id))
        return JSONResponse({"message": "Deleted 1 log(s)"})

    @requires("deliveries.repair", scopes=["dhis2:aggregate"], basic=True)
    async def purge(self, request: Request) -> Response:
        """dhis2gw's ``DELETE /logs/purge?date=<RFC 3339>``: logs submitted before ``date``.

        Finished deliveries go with their logs; one still waiting keeps its delivery (it is sent).
        """
        value = request.query_params.get("date", "")
        if not value:
            return error("missing 'date' query parameter", 400)
        cutoff = bounded_day(value) if len(value) > 10 else None
        if cutoff is None:
            return error("invalid 'date' format, use RFC3339", 400)
        gateway = gateway_of(request)
        async with gateway.db.transaction() as conn:
            rows = (
                await conn.execute(sa.select(table.c.id, table.c.delivery_id).where(table.c.submitted_at < cutoff))
            ).all()
        states = await delivery_states(gateway, [r.delivery_id for r in rows if r.delivery_id])
        for row in rows:
            state = states.get(row.delivery_id) if row.delivery_id else None
            if state is not None and state["status"] in _FINAL:
                try:
                    await delete_delivery(gateway, row.delivery_id, request.state.principal)
                except (NotFound, Conflict):
                    pass
        async with gateway.db.transaction() as conn:
            await conn.execute(sa.delete(table).where(table.c.id.in_([r.id for r in rows])))
        return JSONResponse({"message": f"Deleted {len(rows)} logs older than {value}"})
