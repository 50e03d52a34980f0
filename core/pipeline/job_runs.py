"""Run history of cron jobs: every run of every core and plugin cron job is recorded here.

``run_recorded`` is the one place a cron job runs, whoever asks (the cron scheduler of the local
queue or of an arq worker, ``POST /api/jobs/{name}/run``). Before a scheduled run it reads the
job's state, so an admin's ``disable`` holds on every process at the next tick, without a
restart. A tick that could not run is recorded too, as ``skipped`` (``record_skipped``), with
its reason: ``DISABLED`` for a disabled job's tick.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core.contracts import CronJob
from core.storage.models import job_runs, job_states

if TYPE_CHECKING:
    from core.storage.db import Database

log = logging.getLogger("switchboard.jobs")
Trigger = Literal["schedule", "manual"]
SKIPPED = "skipped"
# The reason recorded for the tick of a job an admin has disabled.
DISABLED = "disabled"
RUN_RETENTION_DAYS = 30


async def enabled(db: Database, name: str) -> bool:
    """Whether the job may run on its schedule (no row: it may)."""
    async with db.transaction() as conn:
        value = await conn.scalar(sa.select(job_states.c.enabled).where(job_states.c.name == name))
    return value is None or bool(value)


async def disabled_names(db: Database) -> set[str]:
    """The names of every job an admin has switched off."""
    async with db.transaction() as conn:
        return set(await conn.scalars(sa.select(job_states.c.name).where(job_states.c.enabled.is_(False))))


async def set_enabled(db: Database, name: str, value: bool, *, by: str | None) -> None:
    """Switch a job on or off for every process (an upsert that holds under concurrent callers)."""
    now = datetime.now(UTC)
    values = {"enabled": value, "updated_at": now, "updated_by": by}
    for _ in range(2):
        try:
            async with db.transaction() as conn:
                done = await conn.execute(sa.update(job_states).where(job_states.c.name == name).values(**values))
                if done.rowcount == 0:
                    await conn.execute(sa.insert(job_states).values(name=name, **values))
            return
        except IntegrityError:
            continue  # another process inserted it first: update it now


async def run_recorded(
    gateway: Any,
    job: CronJob,
    ctx: dict[str, Any],
    *,
    trigger: Trigger = "schedule",
    worker: str | None = None,
    tick: datetime | None = None,
    timeout: float | None = None,
) -> bool:
    """Run ``job`` once and record the run; returns whether it ran.

    A scheduled run of a disabled job does not run: its tick is recorded as skipped, with the
    reason ``DISABLED`` (so the job's history says why nothing ran). A job may return a count
    (rows purged, deliveries requeued): it is recorded as ``rows``. The job's own exception is
    logged and recorded, never raised: the schedule goes on; so is running past ``timeout``
    seconds. ``tick`` is the schedule's tick the run is for (``ctx["tick"]`` for the job).
    """
    db: Database = gateway.db
    if trigger == "schedule":
        try:
            if not await enabled(db, job.name):
                if not await _disabled_on_record(db, job.name):
                    await record_skipped(db, job.name, tick, DISABLED, worker=worker)
                return False
        except Exception:  # the database is down: run anyway; the job will say what it can do
            log.warning("could not read the state of job %s; running it", job.name, exc_info=True)
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    outcome, error, rows = "succeeded", None, None
    try:
        result = await asyncio.wait_for(job.function(ctx), timeout)
        if isinstance(result, int) and not isinstance(result, bool):
            rows = result
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        outcome, error = "failed", f"TimeoutError: ran past the job timeout of {timeout:.0f} s"
        log.error("cron job %s ran past its timeout of %.0f s and was cancelled", job.name, timeout or 0)
    except Exception as err:
        outcome, error = "failed", f"{type(err).__name__}: {err}"[:4000]
        log.exception("cron job %s failed", job.name)
    duration_ms = (time.perf_counter() - started) * 1000
    await _record(
        db,
        name=job.name,
        trigger=trigger,
        started_at=started_at,
        duration_ms=duration_ms,
        outcome=outcome,
        error=error,
        rows=rows,
        worker=worker,
        tick=tick,
    )
    return True


async def _disabled_on_record(db: Database, name: str) -> bool:
    """Whether the job's latest recorded run is already a tick skipped as ``DISABLED``.

    The first tick after an admin disables a job is recorded (its history says why nothing
    runs); the ticks after it, while it stays disabled, are not: a 15-second job would
    otherwise write 5,760 rows a day saying the same.
    """
    async with db.transaction() as conn:
        latest = (
            await conn.execute(
                sa.select(job_runs.c.outcome, job_runs.c.error)
                .where(job_runs.c.name == name)
                .order_by(job_runs.c.id.desc())
                .limit(1)
            )
        ).first()
    return latest is not None and (latest.outcome, latest.error) == (SKIPPED, DISABLED)


async def record_skipped(db: Database, name: str, tick: datetime | None, reason: str, *, worker: str | None) -> None:
    """Record that the tick ``tick`` of job ``name`` did not run, and why (its ``error``)."""
    # A disabled job skips every tick by an admin's choice: no warning each time.
    level = logging.INFO if reason == DISABLED else logging.WARNING
    log.log(level, "cron job %s: skipped its tick of %s: %s", name, tick.isoformat() if tick else "now", reason)
    await _record(
        db,
        name=name,
        trigger="schedule",
        started_at=datetime.now(UTC),
        duration_ms=0.0,
        outcome=SKIPPED,
        error=reason,
        rows=None,
        worker=worker,
        tick=tick,
    )


async def _record(db: Database, **values: Any) -> None:
    try:
        async with db.transaction() as conn:
            await conn.execute(sa.insert(job_runs).values(**values))
    except Exception:
        log.warning("could not record the run of job %s", values["name"], exc_info=True)


async def last_ran(db: Database) -> dict[str, datetime]:
    """When each job last started a run (skipped ticks left out): the scheduler's catch-up reads it."""
    query = (
        sa.select(job_runs.c.name, sa.func.max(job_runs.c.started_at))
        .where(job_runs.c.outcome != SKIPPED)
        .group_by(job_runs.c.name)
    )
    async with db.transaction() as conn:
        return {name: at for name, at in (await conn.execute(query)).all()}


async def last_runs(db: Database, name: str, limit: int = 5) -> list[dict[str, Any]]:
    """The job's latest runs, newest first."""
    query = sa.select(job_runs).where(job_runs.c.name == name).order_by(job_runs.c.id.desc()).limit(limit)
    async with db.transaction() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [
        {
            "started_at": r["started_at"].isoformat(),
            "duration_ms": round(r["duration_ms"], 3),
            "trigger": r["trigger"],
            "outcome": r["outcome"],
            "error": r["error"],
            "rows": r["rows"],
            "worker": r["worker"],
            "tick": r["tick"].isoformat() if r["tick"] is not None else None,
        }
        for r in rows
    ]


async def purge_runs(db: Database, days: int = RUN_RETENTION_DAYS) -> int:
    """Delete runs older than ``days``; returns how many."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    async with db.transaction() as conn:
        result = await conn.execute(sa.delete(job_runs).where(job_runs.c.started_at < cutoff))
    return int(result.rowcount or 0)


def next_run(job: CronJob, now: datetime | None = None) -> datetime:
    """When the schedule next fires: the next multiple of ``every`` seconds on the UTC clock."""
    return last_tick(job, now) + timedelta(seconds=job.every)


def last_tick(job: CronJob, now: datetime | None = None) -> datetime:
    """The schedule's latest tick at or before ``now``: a multiple of ``every`` seconds on the UTC clock.

    The same ticks as arq's cron at ``CronJob.arq_schedule()``: ``every`` divides a minute, an hour
    or a day, so its multiples since the epoch fall on the same seconds, minutes or hours.
    """
    now = now or datetime.now(UTC)
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch // job.every * job.every, UTC)
