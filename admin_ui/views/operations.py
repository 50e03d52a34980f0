"""Destinations and jobs: each destination's breaker (pause, resume) and the cron jobs (run now, disable, enable)."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin_ui.console import console_of
from admin_ui.views.common import caller
from core.auth.permissions import requires
from core.operations import destinations, jobs


@requires("traffic.read")
async def operations_page(request: Request) -> Response:
    """Every destination's breaker and every cron job with its last runs; buttons for operators."""
    return await _render(request, request.query_params.get("done"))


async def _render(request: Request, done: str | None) -> Response:
    console = console_of(request)
    context = {
        "destinations": await destinations.list_destinations(console.gateway),
        "jobs": await jobs.list_jobs(console.gateway),
        "done": done,
    }
    return console.render(request, "operations.html", context, block="operations")


async def _after(request: Request, done: str) -> Response:
    """After an action: the page again (HTMX swaps it in place), else a redirect to it."""
    if request.headers.get("hx-request") == "true":
        return await _render(request, done)
    return RedirectResponse(f"/admin/destinations?{urlencode({'done': done})}", status_code=303)


@requires("destinations.manage")
async def pause(request: Request) -> Response:
    name = request.path_params["name"]
    await destinations.pause(console_of(request).gateway, name, caller(request))
    return await _after(request, f"paused {name}")


@requires("destinations.manage")
async def resume(request: Request) -> Response:
    name = request.path_params["name"]
    await destinations.resume(console_of(request).gateway, name, caller(request))
    return await _after(request, f"resumed {name}")


@requires("jobs.run")
async def run_job(request: Request) -> Response:
    job = await jobs.run_now(console_of(request).gateway, request.path_params["name"], caller(request))
    return await _after(request, f"queued a run of {job.name}")


@requires("jobs.manage")
async def disable_job(request: Request) -> Response:
    job = await jobs.set_enabled(console_of(request).gateway, request.path_params["name"], False, caller(request))
    return await _after(request, f"disabled {job.name}")


@requires("jobs.manage")
async def enable_job(request: Request) -> Response:
    job = await jobs.set_enabled(console_of(request).gateway, request.path_params["name"], True, caller(request))
    return await _after(request, f"enabled {job.name}")
