"""``/plugins/reports/schedules``: admins add, change and remove schedules; the config file's are read-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.testing import api_key_headers, user_headers
from plugins.reports import scheduler
from tests.reports.schedule_steps import (
    SCHEDULES,
    daily,
    scheduled_reports,
    settled,
)
from tests.support.smtp import Inbox


async def test_an_admin_adds_a_schedule_and_it_is_listed_beside_the_configs(schedule_app) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app(schedules=[daily("from-config")]) as client:
        admin = await user_headers(client.gateway, "admin")
        r = await client.post(SCHEDULES, json=daily("weekly", every="week"), headers=admin)
        assert r.status_code == 201, r.text
        items = (await client.get(SCHEDULES, headers=admin)).json()["items"]
        assert {(i["name"], i["source"]) for i in items} == {("from-config", "config"), ("weekly", "api")}


async def test_an_api_key_with_reports_admin_manages_schedules(schedule_app) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app() as client:
        key = await api_key_headers(client.gateway, ["reports:admin"])
        assert (await client.post(SCHEDULES, json=daily(), headers=key)).status_code == 201


async def test_an_operator_may_not_manage_schedules(schedule_app) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app(schedules=[daily("fixed")]) as client:
        operator = await user_headers(client.gateway, "operator")
        assert (await client.post(SCHEDULES, json=daily(), headers=operator)).status_code == 403
        assert (await client.patch(f"{SCHEDULES}/fixed", json={"enabled": False}, headers=operator)).status_code == 403
        assert (await client.delete(f"{SCHEDULES}/fixed", headers=operator)).status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"every": "fortnight"}, "every"),
        ({"every": None}, "cron"),
        ({"cron": "30 6 * *"}, "cron"),
        ({"cron": "61 6 * * *", "every": None, "at": None}, "cron"),
        ({"at": "6am"}, "at"),
        ({"every": "hour", "at": "06:00"}, "at"),
        ({"recipients": ["not-an-address"]}, "recipients"),
        ({"recipients": []}, "destination"),
        ({"type": "no_such_type"}, "type"),
        ({"params": {"period": "last_year"}}, "params.period"),
        ({"destination": "nowhere"}, "destination"),
        ({"name": "Bad Name"}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_a_bad_definition_is_a_422_naming_the_field(schedule_app, change: dict[str, object], field: str) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app() as client:
        admin = await user_headers(client.gateway, "admin")
        r = await client.post(SCHEDULES, json=daily(**change), headers=admin)
        assert r.status_code == 422, r.text
        assert field in {e.get("field") for e in r.json()["errors"]}, r.json()
        assert (await client.get(SCHEDULES, headers=admin)).json()["items"] == []


async def test_a_taken_name_is_a_409(schedule_app) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app(schedules=[daily("taken")]) as client:
        admin = await user_headers(client.gateway, "admin")
        assert (await client.post(SCHEDULES, json=daily("taken"), headers=admin)).status_code == 409
        assert (await client.post(SCHEDULES, json=daily("mine"), headers=admin)).status_code == 201
        assert (await client.post(SCHEDULES, json=daily("mine"), headers=admin)).status_code == 409


async def test_a_config_schedule_may_not_be_changed_or_deleted(schedule_app) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app(schedules=[daily("fixed")]) as client:
        admin = await user_headers(client.gateway, "admin")
        assert (await client.patch(f"{SCHEDULES}/fixed", json={"at": "07:00"}, headers=admin)).status_code == 409
        assert (await client.delete(f"{SCHEDULES}/fixed", headers=admin)).status_code == 409


async def test_a_schedule_is_changed_field_by_field(schedule_app) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app() as client:
        admin = await user_headers(client.gateway, "admin")
        await client.post(SCHEDULES, json=daily("mine"), headers=admin)
        r = await client.patch(f"{SCHEDULES}/mine", json={"every": "month", "format": "xlsx"}, headers=admin)
        assert r.status_code == 200, r.text
        assert (r.json()["every"], r.json()["format"], r.json()["at"]) == ("month", "xlsx", "06:00")


async def test_a_bad_change_is_a_422_and_changes_nothing(schedule_app) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app() as client:
        admin = await user_headers(client.gateway, "admin")
        await client.post(SCHEDULES, json=daily("mine"), headers=admin)
        r = await client.patch(f"{SCHEDULES}/mine", json={"at": "31:00"}, headers=admin)
        assert r.status_code == 422 and "at" in {e.get("field") for e in r.json()["errors"]}
        [item] = (await client.get(SCHEDULES, headers=admin)).json()["items"]
        assert item["at"] == "06:00"


async def test_an_unknown_schedule_is_a_404(schedule_app) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app() as client:
        admin = await user_headers(client.gateway, "admin")
        assert (await client.patch(f"{SCHEDULES}/ghost", json={"at": "07:00"}, headers=admin)).status_code == 404
        assert (await client.delete(f"{SCHEDULES}/ghost", headers=admin)).status_code == 404


async def test_a_deleted_schedule_no_longer_runs(schedule_app) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app() as client:
        admin = await user_headers(client.gateway, "admin")
        await client.post(SCHEDULES, json=daily("mine", every="hour", at="00:00"), headers=admin)
        assert (await client.delete(f"{SCHEDULES}/mine", headers=admin)).status_code == 204
        next_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        assert await scheduler.tick(client.gateway, next_hour + timedelta(minutes=1)) == 0
        assert await scheduled_reports(client.gateway) == []


async def test_an_api_schedule_runs_at_its_next_tick_and_mails(schedule_app, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app() as client:
        admin = await user_headers(client.gateway, "admin")
        await client.post(SCHEDULES, json=daily("hourly", every="hour", at="00:00"), headers=admin)
        next_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        # Not its tick before it was created; its next one, yes.
        assert await scheduler.tick(client.gateway, next_hour - timedelta(hours=1, seconds=-1)) == 0
        assert await scheduler.tick(client.gateway, next_hour + timedelta(minutes=1)) == 1
        [run] = await settled(client.gateway)
        assert run.state == "delivered"
        assert len(inbox.received) == 1
        [item] = (await client.get(SCHEDULES, headers=admin)).json()["items"]
        assert item["last_run"]["state"] == "delivered"


async def test_recipients_without_mail_configured_are_a_422(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        admin = await user_headers(client.gateway, "admin")
        r = await client.post(SCHEDULES, json=daily(), headers=admin)
        assert r.status_code == 422 and "recipients" in {e.get("field") for e in r.json()["errors"]}
