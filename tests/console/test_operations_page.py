"""The console's "Destinations and jobs" page: breakers with pause and resume, cron jobs with run now."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from core.pipeline.job_runs import last_runs
from core.storage.models import audit_log
from core.testing import GatewayClient, run_jobs, wait_until
from tests.console.conftest import bearer, log_in


async def _state(gw: GatewayClient, name: str) -> str:
    r = await gw.get("/api/destinations", headers=await bearer(gw, "viewer"))
    return str(next(d for d in r.json()["items"] if d["name"] == name)["state"])


async def test_a_viewer_sees_breakers_and_jobs_without_buttons(gw: GatewayClient) -> None:
    await log_in(gw, "viewer")
    page = await gw.get("/admin/destinations")
    assert page.status_code == 200
    assert "crm" in page.text and "closed" in page.text and "sweep" in page.text
    assert "/pause" not in page.text and "/run" not in page.text and "/disable" not in page.text


async def test_the_page_is_in_the_navigation(gw: GatewayClient) -> None:
    await log_in(gw, "viewer")
    assert 'href="/admin/destinations"' in (await gw.get("/admin/")).text


async def test_an_operator_pauses_a_destination_and_the_page_says_by_whom(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    r = await gw.post("/admin/destinations/crm/pause", headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert r.status_code == 200 and "paused crm" in r.text and "by user:operator" in r.text
    assert await _state(gw, "crm") == "paused"


async def test_an_operator_resumes_a_paused_destination(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    await gw.post("/admin/destinations/crm/pause", data={"csrf_token": token})
    r = await gw.post("/admin/destinations/crm/resume", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/destinations?done=")
    assert await _state(gw, "crm") == "closed"


async def test_pausing_a_paused_destination_is_a_conflict(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    await gw.post("/admin/destinations/crm/pause", data={"csrf_token": token})
    r = await gw.post("/admin/destinations/crm/pause", data={"csrf_token": token})
    assert r.status_code == 409 and "already paused" in r.text


async def test_an_unknown_destination_is_not_found(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    r = await gw.post("/admin/destinations/nowhere/pause", data={"csrf_token": token})
    assert r.status_code == 404


async def test_a_viewer_may_not_pause_a_destination(gw: GatewayClient) -> None:
    token = await log_in(gw, "viewer")
    r = await gw.post("/admin/destinations/crm/pause", data={"csrf_token": token})
    assert r.status_code == 403
    assert await _state(gw, "crm") == "closed"


async def test_a_pause_without_the_csrf_token_is_refused(gw: GatewayClient) -> None:
    await log_in(gw, "operator")
    r = await gw.post("/admin/destinations/crm/pause")
    assert r.status_code == 403
    assert await _state(gw, "crm") == "closed"


async def test_an_operator_runs_a_job_now_and_its_run_is_recorded(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    r = await gw.post("/admin/jobs/sweep/run", data={"csrf_token": token})
    assert r.status_code == 303
    gateway = gw.gateway

    async def manual_run() -> list[dict[str, Any]] | None:
        if gateway.settings.queue.backend == "arq":
            await run_jobs(gateway, share=True)
        runs = [run for run in await last_runs(gateway.db, "sweep") if run["trigger"] == "manual"]
        return runs or None

    [run] = await wait_until(manual_run, message="a manual run of sweep")
    assert run["outcome"] == "succeeded"
    await gateway.audit.flush()
    async with gateway.db.transaction() as conn:
        actions = [a for (a,) in await conn.execute(sa.select(audit_log.c.action).where(audit_log.c.kind == "admin"))]
    assert "job.run" in actions


async def test_a_viewer_may_not_run_a_job(gw: GatewayClient) -> None:
    token = await log_in(gw, "viewer")
    assert (await gw.post("/admin/jobs/sweep/run", data={"csrf_token": token})).status_code == 403


async def test_an_unknown_job_is_not_found(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    assert (await gw.post("/admin/jobs/nothing/run", data={"csrf_token": token})).status_code == 404


async def _enabled(gw: GatewayClient, name: str) -> bool:
    r = await gw.get("/api/jobs", headers=await bearer(gw, "viewer"))
    return bool(next(j for j in r.json()["items"] if j["name"] == name)["enabled"])


async def test_an_operator_sees_run_now_but_no_disable_button(gw: GatewayClient) -> None:
    await log_in(gw, "operator")
    page = await gw.get("/admin/destinations")
    assert "/admin/jobs/sweep/run" in page.text and "/admin/jobs/sweep/disable" not in page.text


async def test_an_admin_disables_a_job_from_the_page_and_it_says_so(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    page = await gw.get("/admin/destinations")
    assert 'action="/admin/jobs/sweep/disable"' in page.text and "data-confirm=" in page.text
    r = await gw.post("/admin/jobs/sweep/disable", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/destinations?done=")
    assert await _enabled(gw, "sweep") is False
    page = await gw.get(r.headers["location"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "disabled sweep" in page.text and 'action="/admin/jobs/sweep/enable"' in page.text
    await gw.gateway.audit.flush()
    async with gw.gateway.db.transaction() as conn:
        query = sa.select(audit_log.c.action, audit_log.c.actor).where(audit_log.c.kind == "admin")
        rows = [tuple(r) for r in await conn.execute(query)]
    assert ("job.disable", "user:admin") in rows


async def test_an_admin_enables_a_disabled_job_in_place_with_htmx(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    await gw.post("/admin/jobs/sweep/disable", data={"csrf_token": token})
    r = await gw.post("/admin/jobs/sweep/enable", headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "enabled sweep" in r.text and 'action="/admin/jobs/sweep/disable"' in r.text and "<html" not in r.text
    assert await _enabled(gw, "sweep") is True


async def test_an_operator_may_not_disable_or_enable_a_job(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    for switch in ("disable", "enable"):
        assert (await gw.post(f"/admin/jobs/sweep/{switch}", data={"csrf_token": token})).status_code == 403
    assert await _enabled(gw, "sweep") is True


async def test_disabling_a_job_without_the_csrf_token_is_refused(gw: GatewayClient) -> None:
    await log_in(gw, "admin")
    assert (await gw.post("/admin/jobs/sweep/disable")).status_code == 403
    assert await _enabled(gw, "sweep") is True


async def test_disabling_an_unknown_job_is_not_found(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    assert (await gw.post("/admin/jobs/nothing/disable", data={"csrf_token": token})).status_code == 404
