"""``/plugins/reports/schedules``: admins list, add, change and remove scheduled reports.

Schedules of the config file are listed too, read-only (changing one is a 409). A bad
definition is a 422 naming the field; the name of an existing schedule, a 409.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core import Conflict, Gateway, NotFound, describe, gateway_of, read_json, requires
from plugins.reports import scheduler
from plugins.reports.models import report_schedule_runs as runs
from plugins.reports.models import report_schedules
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


async def schedule_view(gateway: Gateway, item: scheduler.Defined) -> dict[str, Any]:
    """A schedule as the API shows it: its definition, where it comes from, and its last run."""
    async with gateway.db.transaction() as conn:
        last = (
            await conn.execute(
                runs.select().where(runs.c.schedule == item.schedule.name).order_by(runs.c.tick_at.desc()).limit(1)
            )
        ).one_or_none()
    return {
        **item.schedule.model_dump(),
        "source": item.source,
        "last_run": None
        if last is None
        else {
            "tick_at": last.tick_at.isoformat(),
            "report_id": str(last.report_id) if last.report_id else None,
            "state": last.state,
            "error": last.error,
        },
    }


async def _api_schedule(gateway: Gateway, name: str) -> scheduler.Defined:
    item = (await scheduler.defined(gateway)).get(name)
    if item is None:
        raise NotFound("no such schedule")
    if item.source == "config":
        raise Conflict(f"the schedule {name!r} is defined in the config file: change it there")
    return item


@requires("admin", scopes=ADMIN)
async def list_schedules(request: Request) -> Response:
    """Every schedule, the config file's (``source: "config"``, read-only) and the API's, with its last run."""
    gateway = gateway_of(request)
    items = [await schedule_view(gateway, item) for item in (await scheduler.defined(gateway)).values()]
    return JSONResponse({"items": items})


@requires("admin", scopes=ADMIN)
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
    return JSONResponse(await schedule_view(gateway, scheduler.Defined(schedule, "api", now)), status_code=201)


@requires("admin", scopes=ADMIN)
@describe(body=ScheduleChange)
async def change_schedule(request: Request) -> Response:
    """Change some fields of an API schedule (404 unknown, 409 a config file's, 422 a bad result)."""
    gateway = gateway_of(request)
    item = await _api_schedule(gateway, request.path_params["name"])
    change = await read_json(request, ScheduleChange)
    merged = item.schedule.model_dump() | change.model_dump(exclude_unset=True)
    schedule = Schedule.model_validate(merged)  # a ValidationError is a 422 naming the field
    scheduler.check(gateway, schedule)
    async with gateway.db.transaction() as conn:
        await conn.execute(
            report_schedules.update()
            .where(report_schedules.c.name == schedule.name)
            .values(definition=schedule.model_dump(), updated_at=datetime.now(UTC))
        )
    return JSONResponse(await schedule_view(gateway, scheduler.Defined(schedule, "api", item.since)))


@requires("admin", scopes=ADMIN)
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


def schedule_routes() -> list[BaseRoute]:
    return [
        Route("/schedules", list_schedules, methods=["GET"]),
        Route("/schedules", create_schedule, methods=["POST"]),
        Route("/schedules/{name}", change_schedule, methods=["PATCH"]),
        Route("/schedules/{name}", delete_schedule, methods=["DELETE"]),
    ]
