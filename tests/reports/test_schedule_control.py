"""Scheduled reports switched off and on, run now, and shown with their next run and last runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from core.storage.models import audit_log
from core.testing import api_key_headers, drain, user_headers
from plugins.reports import scheduler
from tests.reports.report_steps import REPORTS
from tests.reports.schedule_steps import (
    SCHEDULES,
    RecorderPlugin,
    at_six,
    daily,
    runs,
    scheduled_reports,
    settled,
)
from tests.support.smtp import Inbox


async def listed(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    return {i["name"]: i for i in (await client.get(SCHEDULES, headers=headers)).json()["items"]}


async def audited(client: Any, action: str) -> list[Any]:
    await client.gateway.audit.flush()
    async with client.gateway.db.transaction() as conn:
        return list((await conn.execute(sa.select(audit_log).where(audit_log.c.action == action))).all())


async def test_a_disabled_schedule_is_not_run_by_any_workers_tick_and_runs_again_once_enabled(
    schedule_app: Any, inbox: Inbox
) -> None:
    async with schedule_app(schedules=[daily()]) as one, schedule_app(schedules=[daily()]) as two:
        admin = await user_headers(one.gateway, "admin")
        r = await one.post(f"{SCHEDULES}/daily-failures/disable", headers=admin)
        assert r.status_code == 200 and r.json() == {"name": "daily-failures", "enabled": False}
        # The other process sees it at its next tick: no restart.
        started = await asyncio.gather(scheduler.tick(one.gateway, at_six(1)), scheduler.tick(two.gateway, at_six(1)))
        assert started == [0, 0]
        assert await scheduled_reports(one.gateway) == []
        assert (await one.post(f"{SCHEDULES}/daily-failures/enable", headers=admin)).status_code == 200
        started = await asyncio.gather(scheduler.tick(one.gateway, at_six(2)), scheduler.tick(two.gateway, at_six(2)))
        assert sorted(started) == [0, 1]
        [run] = await settled(one.gateway, two.gateway)
        assert run.state == "delivered" and len(inbox.received) == 1


async def test_the_state_and_next_run_are_listed_and_next_run_is_null_while_disabled(schedule_app: Any) -> None:
    async with schedule_app(schedules=[daily()]) as client:
        admin = await user_headers(client.gateway, "admin")
        item = (await listed(client, admin))["daily-failures"]
        assert item["enabled"] is True
        next_run = datetime.fromisoformat(item["next_run"])
        assert next_run > datetime.now(UTC) and (next_run.hour, next_run.minute) == (6, 0)
        await client.post(f"{SCHEDULES}/daily-failures/disable", headers=admin)
        item = (await listed(client, admin))["daily-failures"]
        assert (item["enabled"], item["next_run"]) == (False, None)
        assert (await client.get(f"{SCHEDULES}/daily-failures", headers=admin)).json()["enabled"] is False


async def test_patch_enabled_switches_a_config_schedule_but_its_other_fields_stay_read_only(schedule_app: Any) -> None:
    async with schedule_app(schedules=[daily("fixed")]) as client:
        admin = await user_headers(client.gateway, "admin")
        r = await client.patch(f"{SCHEDULES}/fixed", json={"enabled": False}, headers=admin)
        assert r.status_code == 200, r.text
        assert (r.json()["enabled"], r.json()["next_run"]) == (False, None)
        r = await client.patch(f"{SCHEDULES}/fixed", json={"enabled": True, "at": "07:00"}, headers=admin)
        assert r.status_code == 409
        assert (await listed(client, admin))["fixed"]["enabled"] is False


async def test_patch_enabled_switches_an_api_schedule_with_other_fields(schedule_app: Any) -> None:
    async with schedule_app() as client:
        admin = await user_headers(client.gateway, "admin")
        await client.post(SCHEDULES, json=daily("mine"), headers=admin)
        r = await client.patch(f"{SCHEDULES}/mine", json={"enabled": False, "at": "07:00"}, headers=admin)
        assert r.status_code == 200, r.text
        assert (r.json()["enabled"], r.json()["at"]) == (False, "07:00")


async def test_a_removed_schedule_added_again_starts_enabled(schedule_app: Any) -> None:
    async with schedule_app() as client:
        admin = await user_headers(client.gateway, "admin")
        await client.post(SCHEDULES, json=daily("mine"), headers=admin)
        await client.post(f"{SCHEDULES}/mine/disable", headers=admin)
        await client.delete(f"{SCHEDULES}/mine", headers=admin)
        r = await client.post(SCHEDULES, json=daily("mine"), headers=admin)
        assert r.status_code == 201 and r.json()["enabled"] is True


@pytest.mark.parametrize("body", [{"enabled": "maybe"}, {"enabled": 1}, {"enabled": "false"}])
async def test_a_bad_enabled_is_a_422_naming_the_field_and_changes_nothing(schedule_app: Any, body: Any) -> None:
    async with schedule_app(schedules=[daily("fixed")]) as client:
        admin = await user_headers(client.gateway, "admin")
        r = await client.patch(f"{SCHEDULES}/fixed", json=body, headers=admin)
        assert r.status_code == 422, r.text
        assert "enabled" in {e.get("field") for e in r.json()["errors"]}
        assert (await listed(client, admin))["fixed"]["enabled"] is True


async def test_run_now_makes_one_report_mailed_as_a_tick_would_and_lists_it_in_last_runs(
    schedule_app: Any, inbox: Inbox
) -> None:
    async with schedule_app(schedules=[daily()]) as client:
        operator = await user_headers(client.gateway, "operator", username="olga")
        r = await client.post(f"{SCHEDULES}/daily-failures/run", headers=operator)
        assert r.status_code == 202, r.text
        report_id = r.json()["id"]
        [run] = await settled(client.gateway)
        assert run.state == "delivered", run.error
        [row] = await scheduled_reports(client.gateway)
        assert str(row.id) == report_id and row.owner == "schedule:daily-failures"
        assert {"start", "end"} <= set(row.params)  # the relative period, resolved when run
        [(to, message)] = inbox.received
        assert sorted(to) == ["lead@example.org", "ops@example.org"]
        assert "daily-failures" in message["Subject"] and list(message.iter_attachments())
        admin = await user_headers(client.gateway, "admin")
        [last] = (await listed(client, admin))["daily-failures"]["last_runs"]
        assert last["report_id"] == report_id and last["trigger"] == "manual" and last["requested_by"] == "user:olga"
        assert (last["outcome"], last["report_status"], last["rows"], last["error"]) == (
            "delivered",
            "completed",
            0,
            None,
        )
        assert last["duration_ms"] >= 0 and last["started_at"]
        [entry] = await audited(client, "reports.schedule.run")
        assert entry.actor == "user:olga" and entry.detail == {"schedule": "daily-failures", "report_id": report_id}


async def test_run_now_submits_to_the_destination_as_a_tick_would(schedule_app: Any, inbox: Inbox) -> None:
    recorder = RecorderPlugin()
    schedule = daily(recipients=[], destination="archive", format="json")
    async with schedule_app(schedules=[schedule], extra_plugins=[("recorder", recorder)]) as client:
        operator = await user_headers(client.gateway, "operator")
        report_id = (await client.post(f"{SCHEDULES}/daily-failures/run", headers=operator)).json()["id"]
        [run] = await settled(client.gateway)
        assert run.state == "delivered", run.error
        await drain(client.gateway)
        [message] = recorder.destination.received
        assert message.extra["report_id"] == report_id and message.extra["schedule"] == "daily-failures"
        assert "content_base64" in message.extra
        assert inbox.received == []


async def test_a_disabled_schedule_runs_now_and_its_next_tick_still_runs_once_enabled(
    schedule_app: Any, inbox: Inbox
) -> None:
    async with schedule_app(schedules=[daily()]) as client:
        admin = await user_headers(client.gateway, "admin")
        await client.post(f"{SCHEDULES}/daily-failures/disable", headers=admin)
        assert (await client.post(f"{SCHEDULES}/daily-failures/run", headers=admin)).status_code == 202
        await client.post(f"{SCHEDULES}/daily-failures/enable", headers=admin)
        assert await scheduler.tick(client.gateway, at_six()) == 1  # the run now did not take the tick
        found = await settled(client.gateway)
        assert len(found) == 2 and {r.requested_by is None for r in found} == {True, False}
        assert len(inbox.received) == 2
        last = (await listed(client, admin))["daily-failures"]["last_runs"]
        assert sorted(r["trigger"] for r in last) == ["manual", "schedule"]


async def test_last_runs_are_the_newest_five_newest_first(schedule_app: Any) -> None:
    async with schedule_app(schedules=[daily()]) as client:
        admin = await user_headers(client.gateway, "admin")
        ids = [(await client.post(f"{SCHEDULES}/daily-failures/run", headers=admin)).json()["id"] for _ in range(6)]
        assert len(set(ids)) == 6 and len(await runs(client.gateway)) == 6
        await settled(client.gateway)
        item = (await listed(client, admin))["daily-failures"]
        assert [r["report_id"] for r in item["last_runs"]] == ids[::-1][:5]
        assert item["last_run"]["report_id"] == ids[-1] and item["last_run"]["state"] == "delivered"


async def test_a_last_run_whose_report_was_deleted_stays_listed_without_it(schedule_app: Any) -> None:
    async with schedule_app(schedules=[daily()]) as client:
        admin = await user_headers(client.gateway, "admin")
        report_id = (await client.post(f"{SCHEDULES}/daily-failures/run", headers=admin)).json()["id"]
        await settled(client.gateway)
        assert (await client.delete(f"{REPORTS}/{report_id}", headers=admin)).status_code == 204
        [last] = (await listed(client, admin))["daily-failures"]["last_runs"]
        assert (last["report_id"], last["report_status"], last["outcome"]) == (report_id, None, "delivered")


async def test_viewers_list_schedules_without_recipients_and_admins_with_them(schedule_app: Any) -> None:
    async with schedule_app(schedules=[daily()]) as client:
        for role in ("viewer", "operator"):
            item = (await listed(client, await user_headers(client.gateway, role)))["daily-failures"]
            assert "recipients" not in item and item["enabled"] is True and "last_runs" in item
        key = await api_key_headers(client.gateway, ["reports:read"])
        assert "recipients" not in (await listed(client, key))["daily-failures"]
        admin = await user_headers(client.gateway, "admin")
        assert (await listed(client, admin))["daily-failures"]["recipients"] == ["ops@example.org", "lead@example.org"]
        single = await client.get(f"{SCHEDULES}/daily-failures", headers=await user_headers(client.gateway, "viewer"))
        assert single.status_code == 200 and "recipients" not in single.json()


async def test_roles_who_may_run_and_who_may_switch(schedule_app: Any) -> None:
    async with schedule_app(schedules=[daily()]) as client:
        viewer = await user_headers(client.gateway, "viewer")
        operator = await user_headers(client.gateway, "operator")
        assert (await client.post(f"{SCHEDULES}/daily-failures/run", headers=viewer)).status_code == 403
        for verb in ("disable", "enable"):
            assert (await client.post(f"{SCHEDULES}/daily-failures/{verb}", headers=operator)).status_code == 403
        assert len(await scheduled_reports(client.gateway)) == 0
        reader = await api_key_headers(client.gateway, ["reports:read"])
        assert (await client.post(f"{SCHEDULES}/daily-failures/run", headers=reader)).status_code == 403
        writer = await api_key_headers(client.gateway, ["reports:write"])
        assert (await client.post(f"{SCHEDULES}/daily-failures/run", headers=writer)).status_code == 202
        assert (await client.post(f"{SCHEDULES}/daily-failures/disable", headers=writer)).status_code == 403
        assert (await listed(client, operator))["daily-failures"]["enabled"] is True


async def test_switching_is_audited(schedule_app: Any) -> None:
    async with schedule_app(schedules=[daily()]) as client:
        admin = await user_headers(client.gateway, "admin", username="ada")
        await client.post(f"{SCHEDULES}/daily-failures/disable", headers=admin)
        await client.post(f"{SCHEDULES}/daily-failures/enable", headers=admin)
        [off] = await audited(client, "reports.schedule.disable")
        [on] = await audited(client, "reports.schedule.enable")
        assert off.actor == on.actor == "user:ada" and off.detail == {"schedule": "daily-failures", "source": "config"}


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("post", "/run"), ("post", "/enable"), ("post", "/disable"), ("get", ""), ("patch", "")],
)
async def test_an_unknown_schedule_is_a_404(schedule_app: Any, method: str, suffix: str) -> None:
    async with schedule_app() as client:
        admin = await user_headers(client.gateway, "admin")
        kwargs: dict[str, Any] = {"json": {"enabled": False}} if method == "patch" else {}
        for name in ("ghost", "Bad%20Name", "x" * 200):
            r = await getattr(client, method)(f"{SCHEDULES}/{name}{suffix}", headers=admin, **kwargs)
            assert r.status_code == 404, (name, r.text)
        assert await scheduled_reports(client.gateway) == []
