"""``/plugins/reports/schedules``: admins add, change, remove, enable and disable scheduled reports.

Every signed-in user (and key with ``reports:read``) lists them — recipients only for admins —
with their state, next run and last runs; operators run one now. Schedules of the config file
are listed too and may be switched off and on and run now, but not changed (409). A bad
definition is a 422 naming the field; the name of an existing schedule, a 409.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core import Conflict, Gateway, NotFound, Principal, describe, gateway_of, principal_of, read_json, requires
from plugins.reports import scheduler
from plugins.reports.models import report_schedule_states, report_schedules
from plugins.reports.routes import READ, WRITE, is_admin
from plugins.reports.schedule_def import Schedule

ADMIN = ["reports:admin"]


class ScheduleChange(BaseModel):
    """A PATCH body: the fields to change (the name stays)."""

    model_config = ConfigDict(extra="forbid")

    every: Literal["hour", "day", "week", "month"] | None = None
    cron: str | None = None
    at: str | None = None
    type: str | None = Field(default=None, min_length=1, max_length=64)
    format: Literal["csv", "xlsx", "json"] | None = None
    params: dict[str, Any] | None = None
    recipients: list[str] | None = None
    destination: str | None = None
    # Switch it off or on (a config file's schedule too, when this is the only field given).
    enabled: StrictBool | None = None


async def schedule_view(
    gateway: Gateway,
    item: scheduler.Defined,
    *,
    enabled: bool = True,
    recipients: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A schedule as the API shows it: its definition, source, state, next run and last runs.

    ``recipients=False`` leaves the addresses out (shown to admins only). ``last_run`` is the
    newest of ``last_runs`` in the shape it had before them (``tick_at``, ``report_id``,
    ``state``, ``error``).
    """
    last = await scheduler.last_runs(gateway, item.schedule.name)
    view = item.schedule.model_dump()
    if not recipients:
        del view["recipients"]
    next_run = item.schedule.next_tick(now or datetime.now(UTC)).isoformat() if enabled else None
    return {
        **view,
        "source": item.source,
        "enabled": enabled,
        "next_run": next_run,
        "last_runs": last,
        "last_run": None
        if not last
        else {
            "tick_at": last[0]["tick_at"],
            "report_id": last[0]["report_id"],
            "state": last[0]["outcome"],
            "error": last[0]["error"],
        },
    }


async def views(gateway: Gateway, principal: Principal) -> list[dict[str, Any]]:
    """Every schedule as ``principal`` may see it (recipients for admins only)."""
    off = await scheduler.disabled_names(gateway)
    shown = is_admin(principal)
    return [
        await schedule_view(gateway, item, enabled=name not in off, recipients=shown)
        for name, item in (await scheduler.defined(gateway)).items()
    ]


async def view_of(gateway: Gateway, principal: Principal, name: str) -> dict[str, Any]:
    """One schedule as ``principal`` may see it; 404 when there is none."""
    item = await find(gateway, name)
    enabled = name not in await scheduler.disabled_names(gateway)
    return await schedule_view(gateway, item, enabled=enabled, recipients=is_admin(principal))


async def find(gateway: Gateway, name: str) -> scheduler.Defined:
    """The schedule named ``name``, of the config file or the API; 404 when there is none."""
    item = (await scheduler.defined(gateway)).get(name)
    if item is None:
        raise NotFound("no such schedule")
    return item


async def switch(gateway: Gateway, name: str, value: bool, principal: Principal, request_id: str | None) -> None:
    """Enable or disable a schedule for every process from its next tick; audited (404 unknown)."""
    item = await find(gateway, name)
    await scheduler.set_enabled(gateway, item.schedule.name, value, by=principal.label)
    gateway.audit.record(
        "admin",
        action="reports.schedule.enable" if value else "reports.schedule.disable",
        request_id=request_id,
        actor=principal.label,
        actor_type=principal.kind,
        detail={"schedule": item.schedule.name, "source": item.source},
    )


async def run(gateway: Gateway, name: str, principal: Principal, request_id: str | None) -> Any:
    """Run a schedule now, once (its report row); audited (404 unknown)."""
    item = await find(gateway, name)
    row = await scheduler.run_now(gateway, item.schedule, principal.label)
    gateway.audit.record(
        "admin",
        action="reports.schedule.run",
        request_id=request_id,
        actor=principal.label,
        actor_type=principal.kind,
        detail={"schedule": item.schedule.name, "report_id": str(row.id)},
    )
    return row


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def _api_schedule(gateway: Gateway, name: str) -> scheduler.Defined:
    item = await find(gateway, name)
    if item.source == "config":
        raise Conflict(f"the schedule {name!r} is defined in the config file: change it there")
    return item


@requires("reports.read", scopes=READ)
async def list_schedules(request: Request) -> Response:
    """Every schedule, the config file's (``source: "config"``) and the API's, with its state,
    next run (null when disabled) and last runs; ``recipients`` only for admins."""
    return JSONResponse({"items": await views(gateway_of(request), principal_of(request))})


@requires("reports.read", scopes=READ)
async def get_schedule(request: Request) -> Response:
    """One schedule as in the list (404 unknown)."""
    return JSONResponse(await view_of(gateway_of(request), principal_of(request), request.path_params["name"]))


@requires("reports.request", scopes=WRITE)
@describe(status=202)
async def run_schedule(request: Request) -> Response:
    """Run a schedule now, once: 202 with its report's id; it is delivered as a tick's would be.

    A disabled schedule runs too (disabling stops its ticks only). 404 unknown; 409 when its
    type or params are no longer valid.
    """
    gateway = gateway_of(request)
    name = request.path_params["name"]
    row = await run(gateway, name, principal_of(request), _request_id(request))
    return JSONResponse({"id": str(row.id), "status": row.status, "schedule": name}, status_code=202)


async def _switch(request: Request, value: bool) -> Response:
    gateway = gateway_of(request)
    name = request.path_params["name"]
    await switch(gateway, name, value, principal_of(request), _request_id(request))
    return JSONResponse({"name": name, "enabled": value})


@requires("reports.manage", scopes=ADMIN)
async def disable_schedule(request: Request) -> Response:
    """Stop a schedule's ticks on every process from the next one (no restart); a config file's too."""
    return await _switch(request, False)


@requires("reports.manage", scopes=ADMIN)
async def enable_schedule(request: Request) -> Response:
    """Let a disabled schedule run at its times again."""
    return await _switch(request, True)


@requires("reports.manage", scopes=ADMIN)
@describe(body=Schedule, status=201)
async def create_schedule(request: Request) -> Response:
    """Add a schedule: 201; 422 naming a bad field, 409 when the name is taken."""
    gateway = gateway_of(request)
    schedule = await read_json(request, Schedule)
    scheduler.check(gateway, schedule)
    if schedule.name in await scheduler.defined(gateway):
        raise Conflict(f"a schedule named {schedule.name!r} exists")
    now = datetime.now(UTC)
    values = {"name": schedule.name, "definition": schedule.model_dump(), "created_at": now, "updated_at": now}
    try:
        async with gateway.db.transaction() as conn:
            await conn.execute(report_schedules.insert().values(values))
    except IntegrityError as err:
        raise Conflict(f"a schedule named {schedule.name!r} exists") from err
    return JSONResponse(await view_of(gateway, principal_of(request), schedule.name), status_code=201)


@requires("reports.manage", scopes=ADMIN)
@describe(body=ScheduleChange)
async def change_schedule(request: Request) -> Response:
    """Change some fields of an API schedule (404 unknown, 409 a config file's, 422 a bad result).

    ``enabled`` alone switches any schedule, a config file's too (as ``…/enable`` and ``…/disable``).
    """
    gateway = gateway_of(request)
    name = request.path_params["name"]
    change = await read_json(request, ScheduleChange)
    fields = change.model_dump(exclude_unset=True)
    enabled = fields.pop("enabled", None)
    item = await (_api_schedule(gateway, name) if fields else find(gateway, name))
    if fields:
        merged = item.schedule.model_dump() | fields
        schedule = Schedule.model_validate(merged)  # a ValidationError is a 422 naming the field
        scheduler.check(gateway, schedule)
        async with gateway.db.transaction() as conn:
            await conn.execute(
                report_schedules.update()
                .where(report_schedules.c.name == schedule.name)
                .values(definition=schedule.model_dump(), updated_at=datetime.now(UTC))
            )
    if enabled is not None:
        await switch(gateway, name, enabled, principal_of(request), _request_id(request))
    return JSONResponse(await view_of(gateway, principal_of(request), name))


@requires("reports.manage", scopes=ADMIN)
@describe(status=204)
async def delete_schedule(request: Request) -> Response:
    """Remove an API schedule (its reports stay until their retention ends)."""
    await remove_schedule(gateway_of(request), request.path_params["name"])
    return Response(status_code=204)


async def remove_schedule(gateway: Gateway, name: str) -> None:
    """Remove an API schedule (404 unknown, 409 one of the config file)."""
    item = await _api_schedule(gateway, name)
    async with gateway.db.transaction() as conn:
        await conn.execute(report_schedules.delete().where(report_schedules.c.name == item.schedule.name))
        # A schedule added again under this name starts enabled.
        await conn.execute(report_schedule_states.delete().where(report_schedule_states.c.name == item.schedule.name))


def schedule_routes() -> list[BaseRoute]:
    return [
        Route("/schedules", list_schedules, methods=["GET"]),
        Route("/schedules", create_schedule, methods=["POST"]),
        Route("/schedules/{name}", get_schedule, methods=["GET"]),
        Route("/schedules/{name}", change_schedule, methods=["PATCH"]),
        Route("/schedules/{name}/run", run_schedule, methods=["POST"]),
        Route("/schedules/{name}/disable", disable_schedule, methods=["POST"]),
        Route("/schedules/{name}/enable", enable_schedule, methods=["POST"]),
        Route("/schedules/{name}", delete_schedule, methods=["DELETE"]),
    ]
