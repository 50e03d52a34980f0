"""Scheduled reports: started once per tick, generated as normal reports, e-mailed or delivered."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta

import pytest

from core import ConfigError
from core.testing import drain, user_headers
from plugins.reports import scheduler, service
from plugins.reports.storage import LocalStorage
from tests.reports.report_steps import REPORTS, parse, seed
from tests.reports.schedule_steps import (
    RecorderPlugin,
    at_six,
    daily,
    runs,
    scheduled_reports,
    settled,
)
from tests.support.smtp import Inbox


async def test_a_due_schedule_emails_its_report_attached(schedule_app, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app(schedules=[daily()]) as client:
        assert await scheduler.tick(client.gateway, at_six()) == 1
        [run] = await settled(client.gateway)
        assert run.state == "delivered", run.error
        [(to, message)] = inbox.received
        assert sorted(to) == ["lead@example.org", "ops@example.org"]
        assert "daily-failures" in message["Subject"]
        [attachment] = list(message.iter_attachments())
        assert attachment.get_filename().endswith(".csv")
        assert attachment.get_payload(decode=True).decode().startswith("id,message_id,destination")


async def test_the_scheduled_report_is_listed_and_owned_by_the_schedule(schedule_app) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app(schedules=[daily()]) as client:
        await scheduler.tick(client.gateway, at_six())
        await settled(client.gateway)
        admin = await user_headers(client.gateway, "admin")
        [item] = (await client.get(REPORTS, headers=admin)).json()["items"]
        assert item["owner"] == "schedule daily-failures" and item["status"] == "completed"
        [row] = await scheduled_reports(client.gateway)
        assert row.owner == "schedule:daily-failures"


async def test_a_file_over_the_attachment_limit_is_sent_as_its_link(schedule_app, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app(schedules=[daily()], attach_max_bytes=0) as client:
        await seed(client.gateway)
        await scheduler.tick(client.gateway, at_six())
        await settled(client.gateway)
        [(_, message)] = inbox.received
        assert not list(message.iter_attachments())
        body = message.get_body(preferencelist=("plain",)).get_content()
        [url] = [line for line in body.splitlines() if line.startswith("http://testserver/plugins/reports/download/")]
        r = await client.get(url)
        assert r.status_code == 200
        assert r.content.decode().startswith("id,message_id,destination")


async def test_a_tick_already_claimed_does_not_run_again(schedule_app, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app(schedules=[daily()]) as client:
        assert await scheduler.tick(client.gateway, at_six(1)) == 1
        assert await scheduler.tick(client.gateway, at_six(2)) == 0
        await settled(client.gateway)
        assert len(await scheduled_reports(client.gateway)) == 1
        assert len(inbox.received) == 1


async def test_a_tick_long_past_is_not_run(schedule_app) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app(schedules=[daily()]) as client:
        assert await scheduler.tick(client.gateway, at_six(0) + timedelta(hours=2)) == 0
        assert await scheduled_reports(client.gateway) == []


async def test_two_gateways_ticking_at_once_make_one_report_and_one_mail(schedule_app, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app(schedules=[daily()]) as one, schedule_app(schedules=[daily()]) as two:
        now = at_six()
        started = await asyncio.gather(scheduler.tick(one.gateway, now), scheduler.tick(two.gateway, now))
        assert sorted(started) == [0, 1]
        [run] = await settled(one.gateway, two.gateway)
        assert run.state == "delivered"
        assert len(await scheduled_reports(one.gateway)) == 1
        assert len(inbox.received) == 1


async def test_a_schedule_submits_its_report_inline_to_its_destination(schedule_app, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    recorder = RecorderPlugin()
    schedule = daily(recipients=[], destination="archive", format="json")
    async with schedule_app(schedules=[schedule], extra_plugins=[("recorder", recorder)]) as client:
        await seed(client.gateway)
        await scheduler.tick(client.gateway, at_six())
        [run] = await settled(client.gateway)
        assert run.state == "delivered", run.error
        await drain(client.gateway)
        [message] = recorder.destination.received
        assert message.kind == "report" and message.extra["schedule"] == "daily-failures"
        assert message.extra["download_url"].startswith("http://testserver/plugins/reports/download/")
        assert parse("json", base64.b64decode(message.extra["content_base64"])) == []
        assert inbox.received == []


async def test_a_refused_mail_marks_the_run_failed(schedule_app, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    inbox.refuse = "550 no such user"
    async with schedule_app(schedules=[daily()]) as client:
        await scheduler.tick(client.gateway, at_six())
        [run] = await settled(client.gateway)
        assert run.state == "failed" and "550" in (run.error or "")


async def test_a_run_whose_file_is_gone_fails_without_naming_a_local_path(schedule_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    async def read_gone(self: LocalStorage, key: str) -> bytes:
        return (self.directory / "gone" / key).read_bytes()  # the file was removed by hand meanwhile

    monkeypatch.setattr(LocalStorage, "read", read_gone)
    async with schedule_app(schedules=[daily()]) as client:
        await scheduler.tick(client.gateway, at_six())
        [run] = await settled(client.gateway)
        directory = service.storage_of(client.gateway).directory  # type: ignore[union-attr]
    assert run.state == "failed" and "No such file or directory" in run.error
    assert str(directory) not in run.error and "gone" not in run.error


async def test_a_configured_schedule_of_an_unknown_type_stops_start_up(schedule_app) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="type"):
        async with schedule_app(schedules=[daily(type="nope")]):
            pass


async def test_a_configured_schedule_with_a_bad_time_stops_start_up(schedule_app) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="at"):
        async with schedule_app(schedules=[daily(at="25:00")]):
            pass


async def test_runs_are_recorded_per_tick(schedule_app) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app(schedules=[daily()]) as client:
        now = at_six(3)
        await scheduler.tick(client.gateway, now)
        await settled(client.gateway)
        [run] = await runs(client.gateway)
        assert run.tick_at == now.replace(minute=0)


async def test_a_configured_schedule_with_recipients_but_no_mail_stops_start_up(app_client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="recipients"):
        async with app_client(plugins={"reports": {"schedules": [daily()]}}):
            pass


async def test_without_public_url_a_file_too_big_to_attach_fails_its_run(schedule_app, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    async with schedule_app(schedules=[daily()], public_url=None, attach_max_bytes=0) as client:
        await scheduler.tick(client.gateway, at_six())
        [run] = await settled(client.gateway)
        assert run.state == "failed" and "public_url" in (run.error or "")
        assert inbox.received == []


async def test_a_cron_schedule_runs_at_its_expressions_times(schedule_app, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    schedule = daily("weekday-mornings", every=None, at=None, cron="30 6 * * *")
    async with schedule_app(schedules=[schedule]) as client:
        assert await scheduler.tick(client.gateway, at_six(29)) == 0  # yesterday's 06:30 is long past
        assert await scheduler.tick(client.gateway, at_six(31)) == 1
        [run] = await settled(client.gateway)
        assert run.tick_at == at_six(31).replace(minute=30) and run.state == "delivered"
        assert len(inbox.received) == 1
