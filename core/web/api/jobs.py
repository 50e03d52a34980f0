"""``/api/jobs``: the cron jobs of the core and every plugin, their schedule, state and last runs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core.auth.permissions import requires
from core.operations import jobs
from core.web.api import answers as A
from core.web.openapi import describe
from core.web.requests import gateway_of


@requires("traffic.read", scopes=["jobs:read"])
@describe(responses={200: A.JOBS})
async def list_jobs(request: Request) -> Response:
    """Every cron job: its schedule, whether it is enabled, its next run and its last runs."""
    return JSONResponse({"items": await jobs.list_jobs(gateway_of(request))})


@requires("jobs.run", scopes=["jobs:write"])
@describe(status=202, responses={202: A.JOB_QUEUED})
async def run_job(request: Request) -> Response:
    """Run a job now, once, on a worker (202; the run appears in its ``last_runs``)."""
    job = await jobs.run_now(gateway_of(request), request.path_params["name"], request.state.principal)
    return JSONResponse({"name": job.name, "queued": True}, status_code=202)


async def _switch(request: Request, value: bool) -> Response:
    job = await jobs.set_enabled(gateway_of(request), request.path_params["name"], value, request.state.principal)
    return JSONResponse({"name": job.name, "enabled": value})


@requires("jobs.manage", scopes=["jobs:admin"])
@describe(responses={200: A.JOB_SWITCHED})
async def disable_job(request: Request) -> Response:
    """Stop a job's scheduled runs on every process (from its next tick; no restart)."""
    return await _switch(request, False)


@requires("jobs.manage", scopes=["jobs:admin"])
@describe(responses={200: A.JOB_SWITCHED})
async def enable_job(request: Request) -> Response:
    """Let a disabled job run on its schedule again."""
    return await _switch(request, True)


def job_routes() -> list[BaseRoute]:
    return [
        Route("/api/jobs", list_jobs),
        Route("/api/jobs/{name}/run", run_job, methods=["POST"]),
        Route("/api/jobs/{name}/disable", disable_job, methods=["POST"]),
        Route("/api/jobs/{name}/enable", enable_job, methods=["POST"]),
    ]
