"""The core's own features, registered as an internal plugin through the hooks third parties use.

Datasette's pattern: the webhook entry point, health checks, the API docs, the ``/api``
routes, the sweeper, retention (audit, tokens, personal data) and dashboard rollup jobs and the ``users`` CLI are contributions of the plugin
named ``core``, so a third-party plugin sees the core's routes and jobs in the same hook
calls as its own (and its hook wrappers wrap them too). Its routes are mounted at the root
rather than under ``/plugins/core``; ``trylast`` leaves plugins free to go first.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.auth.cli import users_command
from core.auth.sessions import purge_expired_refresh_tokens
from core.contracts import Command, CronJob
from core.hookspecs import hookimpl
from core.operations import retention, rollup, subject_export
from core.pipeline import job_runs
from core.pipeline.stored_hooks import run_pending
from core.pipeline.sweeper import sweep
from core.scaffold import new_plugin_command
from core.web.api import api_routes
from core.web.health import health_routes
from core.web.metrics import metrics_routes
from core.web.webhooks import webhook_routes

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from core.gateway import Gateway

NAME = "core"
log = logging.getLogger("switchboard")


@hookimpl(trylast=True)
def switchboard_routes(gateway: Gateway) -> Sequence[BaseRoute]:
    # The webhook route first: the busiest route, matched before any other route's pattern is tried.
    return [*webhook_routes(), *health_routes(), *metrics_routes(), *api_routes()]


async def _sweep_job(ctx: dict[str, Any]) -> int:
    """Deliveries Redis or a stopped worker lost, enqueued; then the stored-message hooks a
    stopped process left pending, run. Returns how many deliveries it enqueued."""
    enqueued = await sweep(ctx["gateway"])
    await run_pending(ctx["gateway"])
    return enqueued


async def _audit_retention_job(ctx: dict[str, Any]) -> int:
    removed: int = await ctx["gateway"].audit.purge()
    if removed:
        log.info("audit retention removed %d rows", removed)
    return removed


async def _refresh_token_retention_job(ctx: dict[str, Any]) -> int:
    removed = await purge_expired_refresh_tokens(ctx["gateway"])
    if removed:
        log.info("removed %d expired refresh tokens", removed)
    return removed


async def _job_run_retention_job(ctx: dict[str, Any]) -> int:
    return await job_runs.purge_runs(ctx["gateway"].db)


async def _dashboard_rollup_job(ctx: dict[str, Any]) -> int:
    """Roll up the closed hours not rolled up yet (a bounded chunk a run) and drop expired ones."""
    gateway: Gateway = ctx["gateway"]
    rolled = await rollup.roll_up(gateway.db, margin=rollup.margin_for(gateway.settings.queue.job_timeout))
    await rollup.purge_rollups(gateway.db)
    return rolled


async def _privacy_retention_job(ctx: dict[str, Any]) -> int:
    """Erase messages past their platform's ``[privacy.retention]`` and remove expired export files."""
    gateway: Gateway = ctx["gateway"]
    return await retention.expire(gateway) + await subject_export.purge_expired_exports(gateway)


async def privacy_export(ctx: dict[str, Any], export_id: str) -> None:
    """Make the file of a person's data export (``POST /api/privacy/exports``)."""
    await subject_export.run_export(ctx["gateway"], uuid.UUID(export_id))


async def run_cron_job(ctx: dict[str, Any], name: str) -> None:
    """Run the cron job ``name`` once now (``POST /api/jobs/{name}/run``), recorded as a manual run."""
    gateway: Gateway = ctx["gateway"]
    job = next((j for j in gateway.cron_jobs() if j.name == name), None)
    if job is None:
        log.warning("asked to run %r, which is no cron job here", name)
        return
    await job_runs.run_recorded(gateway, job, ctx, trigger="manual", worker=ctx.get("worker_name", "local"))


@hookimpl(trylast=True)
def switchboard_jobs(gateway: Gateway) -> Sequence[Any]:
    interval = max(1, int(gateway.settings.queue.sweep_interval))
    # arq's cron needs a divisor of a minute (or of an hour, for whole minutes).
    every = next(n for n in (interval, 15, 10, 5, 1) if 60 % n == 0 or (n % 60 == 0 and 3600 % n == 0))
    return [
        CronJob("sweep", _sweep_job, every=every, run_at_startup=True),
        CronJob("audit_retention", _audit_retention_job, every=3600),
        CronJob("refresh_token_retention", _refresh_token_retention_job, every=3600),
        CronJob("job_run_retention", _job_run_retention_job, every=3600),
        CronJob("dashboard_rollup", _dashboard_rollup_job, every=300),
        CronJob("privacy_retention", _privacy_retention_job, every=3600),
        run_cron_job,
        privacy_export,
    ]


@hookimpl(trylast=True)
def switchboard_commands() -> Sequence[Command]:
    return [users_command(), new_plugin_command()]
