"""Run history of cron jobs: every run recorded; run now, disable and enable through ``/api/jobs``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from core import CronJob, hookimpl
from core.gateway import Gateway
from core.pipeline.job_runs import run_recorded, set_enabled
from core.storage.models import audit_log, job_runs
from core.testing import run_jobs, user_headers, wait_until


class CountingJobs:
    """A plugin with a cron job that returns a count and one that fails."""

    @hookimpl
    def switchboard_jobs(self) -> list[Any]:
        async def tidy(ctx: dict[str, Any]) -> int:
            return 42

        async def broken(ctx: dict[str, Any]) -> None:
            raise RuntimeError("the far side is down")

        return [CronJob("tidy", tidy, every=3600), CronJob("broken", broken, every=3600)]


async def _runs_of(
    client: Any, headers: dict[str, str], name: str, count: int = 1, trigger: str = "manual"
) -> list[dict[str, Any]]:
    """Wait (on the worker, when the stack has one) until ``name`` has ``count`` runs by ``trigger``; return them.

    Runs by the other trigger are left out: a job that never ran also runs at its scheduler's start.
    """
    gateway: Gateway = client.gateway

    async def runs() -> list[dict[str, Any]] | None:
        if gateway.settings.queue.backend == "arq":
            await run_jobs(gateway, share=True)
        jobs = (await client.get("/api/jobs", headers=headers)).json()["items"]
        found = [r for r in next(j for j in jobs if j["name"] == name)["last_runs"] if r["trigger"] == trigger]
        return found if len(found) >= count else None

    done: list[dict[str, Any]] = await wait_until(runs, message=f"{count} run(s) of job {name}")
    return done


async def test_jobs_list_core_and_plugin_jobs_with_schedule_and_next_run(app_client: Callable[..., Any]) -> None:
    async with app_client(extra_plugins=[("counting", CountingJobs())]) as client:
        headers = await user_headers(client.gateway, "viewer")
        r = await client.get("/api/jobs", headers=headers)
    assert r.status_code == 200
    jobs = {j["name"]: j for j in r.json()["items"]}
    assert {"sweep", "audit_retention", "tidy", "broken"} <= set(jobs)
    assert jobs["tidy"]["schedule"] == "every hour"
    assert jobs["tidy"]["enabled"] is True
    assert jobs["tidy"]["next_run"].endswith(":00:00+00:00")


async def test_running_a_job_now_records_its_outcome_duration_and_count(app_client: Callable[..., Any]) -> None:
    async with app_client(extra_plugins=[("counting", CountingJobs())]) as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post("/api/jobs/tidy/run", headers=headers)
        assert r.status_code == 202
        [run] = await _runs_of(client, headers, "tidy")
    assert run["outcome"] == "succeeded"
    assert run["trigger"] == "manual"
    assert run["rows"] == 42
    assert run["duration_ms"] >= 0
    assert run["error"] is None


async def test_a_failing_job_records_its_error(app_client: Callable[..., Any]) -> None:
    async with app_client(extra_plugins=[("counting", CountingJobs())]) as client:
        headers = await user_headers(client.gateway, "operator")
        await client.post("/api/jobs/broken/run", headers=headers)
        [run] = await _runs_of(client, headers, "broken")
    assert run["outcome"] == "failed"
    assert run["error"] == "RuntimeError: the far side is down"


async def test_a_disabled_job_skips_its_scheduled_runs_in_every_process(app_client: Callable[..., Any]) -> None:
    async with app_client(extra_plugins=[("counting", CountingJobs())]) as client:
        admin = await user_headers(client.gateway, "admin")
        # This app's scheduler runs the job at its start (it never ran): let it, before disabling.
        # Were its start late, its tick would be the one recorded as skipped, and the other
        # process's next tick, rightly, not recorded again.
        await _runs_of(client, admin, "tidy", trigger="schedule")
        r = await client.post("/api/jobs/tidy/disable", headers=admin)
        assert r.status_code == 200 and r.json() == {"name": "tidy", "enabled": False}
        # Another process (its own gateway, the same database) reads the state before its run.
        other = Gateway(client.gateway.settings, [("counting", CountingJobs())])
        await other.start(run_queue=False)
        try:
            tidy = next(j for j in other.cron_jobs() if j.name == "tidy")
            assert await run_recorded(other, tidy, {"gateway": other}) is False
            await client.post("/api/jobs/tidy/enable", headers=admin)
            assert await run_recorded(other, tidy, {"gateway": other}) is True
        finally:
            await other.close()
        jobs = {j["name"]: j for j in (await client.get("/api/jobs", headers=admin)).json()["items"]}
    assert jobs["tidy"]["enabled"] is True
    # The other process's runs, newest first (this app's scheduler ran the job at its start, before it was
    # disabled): its tick while disabled is recorded as skipped, with the reason.
    other_runs = [run for run in jobs["tidy"]["last_runs"] if run["worker"] is None]
    assert [(run["trigger"], run["outcome"], run["error"]) for run in other_runs] == [
        ("schedule", "succeeded", None),
        ("schedule", "skipped", "disabled"),
    ]


async def test_a_disabled_job_records_one_skipped_tick_per_stretch_not_one_per_tick(
    app_client: Callable[..., Any],
) -> None:
    async def quiet(ctx: dict[str, Any]) -> None:
        return None

    # A job no scheduler of the app knows: only this test's calls run or skip it.
    job = CronJob("quiet", quiet, every=15)
    async with app_client() as client:
        gateway = client.gateway

        async def tick() -> bool:
            return await run_recorded(gateway, job, {"gateway": gateway}, worker="test")

        await set_enabled(gateway.db, "quiet", False, by="test")
        assert [await tick() for _ in range(3)] == [False, False, False]  # three ticks while disabled
        await set_enabled(gateway.db, "quiet", True, by="test")
        assert await tick() is True
        await set_enabled(gateway.db, "quiet", False, by="test")
        assert [await tick() for _ in range(2)] == [False, False]  # disabled again: said once more
        async with gateway.db.transaction() as conn:
            rows = await conn.execute(
                sa.select(job_runs.c.outcome, job_runs.c.error)
                .where(job_runs.c.name == "quiet")
                .order_by(job_runs.c.id)
            )
            history = [(r.outcome, r.error) for r in rows]
    assert history == [("skipped", "disabled"), ("succeeded", None), ("skipped", "disabled")]


async def test_a_disabled_job_shows_no_next_run(app_client: Callable[..., Any]) -> None:
    async with app_client(extra_plugins=[("counting", CountingJobs())]) as client:
        admin = await user_headers(client.gateway, "admin")
        await client.post("/api/jobs/tidy/disable", headers=admin)
        jobs = {j["name"]: j for j in (await client.get("/api/jobs", headers=admin)).json()["items"]}
    assert jobs["tidy"]["enabled"] is False and jobs["tidy"]["next_run"] is None


async def test_only_operators_run_jobs_and_only_admins_switch_them(app_client: Callable[..., Any]) -> None:
    async with app_client(extra_plugins=[("counting", CountingJobs())]) as client:
        viewer = await user_headers(client.gateway, "viewer")
        operator = await user_headers(client.gateway, "operator")
        assert (await client.post("/api/jobs/tidy/run", headers=viewer)).status_code == 403
        for role in (viewer, operator):
            for switch in ("disable", "enable"):
                assert (await client.post(f"/api/jobs/tidy/{switch}", headers=role)).status_code == 403
        assert (await client.get("/api/jobs")).status_code == 401


async def test_an_unknown_job_is_not_found(app_client: Callable[..., Any]) -> None:
    async with app_client() as client:
        admin = await user_headers(client.gateway, "admin")
        r = await client.post("/api/jobs/nope/disable", headers=admin)
    assert r.status_code == 404


async def test_disabling_and_enabling_a_job_are_audited_with_who_did_it(app_client: Callable[..., Any]) -> None:
    async with app_client(extra_plugins=[("counting", CountingJobs())]) as client:
        admin = await user_headers(client.gateway, "admin")
        await client.post("/api/jobs/tidy/disable", headers=admin)
        await client.post("/api/jobs/tidy/enable", headers=admin)
        await client.gateway.audit.flush()
        query = sa.select(audit_log.c.action, audit_log.c.actor, audit_log.c.detail).where(audit_log.c.kind == "admin")
        async with client.gateway.db.transaction() as conn:
            rows = [tuple(r) for r in await conn.execute(query.order_by(audit_log.c.id))]
    switches = [(action, detail["job"]) for action, _actor, detail in rows if action.startswith("job.")]
    assert switches == [("job.disable", "tidy"), ("job.enable", "tidy")]
    assert all(actor for action, actor, _detail in rows if action.startswith("job."))
