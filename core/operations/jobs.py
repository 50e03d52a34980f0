"""The cron jobs of the core and every plugin as operators see them; run one now, disable or enable one.

One service for ``/api/jobs`` and the console's "Destinations and jobs" page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.auth.permissions import Principal
from core.contracts import CronJob
from core.errors import NotFound
from core.pipeline import job_runs

if TYPE_CHECKING:
    from core.gateway import Gateway

# The worker's task that runs a cron job once, by name.
RUN_NOW_JOB = "run_cron_job"


def find_job(gateway: Gateway, name: str) -> CronJob:
    """The cron job named ``name``; ``NotFound`` if there is none."""
    for job in gateway.cron_jobs():
        if job.name == name:
            return job
    raise NotFound(f"no job named {name!r}")


def schedule_of(job: CronJob) -> str:
    """The job's schedule in words ("every 5 min")."""
    every = job.every
    if every % 3600 == 0:
        return f"every {every // 3600} h" if every > 3600 else "every hour"
    if every % 60 == 0:
        return f"every {every // 60} min"
    return f"every {every} s"


async def list_jobs(gateway: Gateway) -> list[dict[str, Any]]:
    """Every cron job: its schedule, whether it is enabled, its next run and its last runs."""
    off = await job_runs.disabled_names(gateway.db)
    return [
        {
            "name": job.name,
            "every": job.every,
            "schedule": schedule_of(job),
            "enabled": job.name not in off,
            "next_run": None if job.name in off else job_runs.next_run(job).isoformat(),
            "last_runs": await job_runs.last_runs(gateway.db, job.name),
        }
        for job in sorted(gateway.cron_jobs(), key=lambda j: j.name)
    ]


async def run_now(gateway: Gateway, name: str, by: Principal) -> CronJob:
    """Queue one run of the job on a worker (its run appears in its last runs), audited."""
    job = find_job(gateway, name)
    await gateway.queue.enqueue_job(RUN_NOW_JOB, job.name)
    gateway.audit.record("admin", action="job.run", actor=by.label, detail={"job": job.name})
    return job


async def set_enabled(gateway: Gateway, name: str, value: bool, by: Principal) -> CronJob:
    """Switch the job's scheduled runs on or off on every process (from its next tick), audited.

    A disabled job can still be run now, by hand.
    """
    job = find_job(gateway, name)
    await job_runs.set_enabled(gateway.db, job.name, value, by=by.label)
    action = "job.enable" if value else "job.disable"
    gateway.audit.record("admin", action=action, actor=by.label, detail={"job": job.name})
    return job
