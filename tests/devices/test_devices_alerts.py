"""Readings that cross a rule alert once per quiet period; silent devices alert once; operators acknowledge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.testing import user_headers
from plugins.devices.jobs import mark_silent_devices
from tests.devices.device_steps import DEVICES, reading, register, upload
from tests.support.pipeline import settle
from tests.support.receiver import running_receiver

ALERTS = "/plugins/devices/alerts"


def alert_route(receiver):  # type: ignore[no-untyped-def]
    return {
        "routes": [{"source": "devices", "destinations": ["nurse-desk"], "kinds": ["alert"]}],
        "plugins": {"http": {"destinations": {"nurse-desk": {"url": receiver.url}}}},
    }


async def test_an_alerting_reading_is_delivered_once_per_quiet_period(app_client) -> None:  # type: ignore[no-untyped-def]
    async with running_receiver() as receiver, app_client(**alert_route(receiver)) as client:
        _, key = await register(client, subject="P-7")
        await upload(client, key, [reading("r-1", value=96), reading("r-2", value=85)])
        await upload(client, key, [reading("r-3", value=84)])  # the same rule and subject: quiet
        assert (await settle(client.gateway)).get("delivered") == 1
        [sent] = receiver.bodies()
        assert sent["kind"] == "alert" and sent["platform"] == "devices"
        extra = sent["extra"]
        assert extra["rule"]["name"] == "spo2-low" and extra["subject"] == "P-7" and extra["severity"] == "critical"
        assert extra["reading"]["id"] == "r-2" and extra["reading"]["value"] == 85


async def test_a_rule_alerts_again_after_its_quiet_period(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(plugins={"devices": {"alert_quiet_period": 0}}) as client:
        _, key = await register(client)
        await upload(client, key, [reading("r-1", value=85)])
        await upload(client, key, [reading("r-2", value=84)])
        r = await client.get(ALERTS, headers=await user_headers(client.gateway, "viewer"))
        assert [a["reading_id"] for a in r.json()["items"]] == ["r-2", "r-1"]


async def test_rules_match_their_subject_only(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        admin = await user_headers(client.gateway, "admin")
        rule = {"name": "p1-fever", "metric": "temperature", "comparison": ">=", "value": 38, "subject": "P-1"}
        r = await client.post("/plugins/devices/rules", json=rule, headers=admin)
        assert r.status_code == 201, r.text
        _, key = await register(client, type="thermometer")
        await upload(
            client,
            key,
            [
                reading("t-1", metric="temperature", value=38.2, unit="°C"),
                reading("t-2", "temperature", 38.4, "C", subject="P-2"),
            ],
        )
        r = await client.get(ALERTS, headers=admin)
        assert [(a["rule"], a["subject"]) for a in r.json()["items"]] == [("p1-fever", "P-1")]


async def test_operators_acknowledge_alerts_and_viewers_may_not(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        _, key = await register(client)
        await upload(client, key, [reading("r-1", value=80)])
        viewer = await user_headers(client.gateway, "viewer")
        [alert] = (await client.get(ALERTS, params={"state": "open"}, headers=viewer)).json()["items"]
        r = await client.post(f"{ALERTS}/{alert['id']}/acknowledge", headers=viewer)
        assert r.status_code == 403
        r = await client.post(
            f"{ALERTS}/{alert['id']}/acknowledge", headers=await user_headers(client.gateway, "operator")
        )
        assert r.status_code == 200 and r.json()["acknowledged_at"] is not None
        assert (await client.get(ALERTS, params={"state": "open"}, headers=viewer)).json()["items"] == []


async def test_only_admins_manage_rules(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        operator = await user_headers(client.gateway, "operator")
        rule = {"name": "hr-high", "metric": "heart_rate", "comparison": ">", "value": 150}
        assert (await client.post("/plugins/devices/rules", json=rule, headers=operator)).status_code == 403
        names = [r["name"] for r in (await client.get("/plugins/devices/rules", headers=operator)).json()["items"]]
        assert "spo2-low" in names and "fever-high" in names  # the defaults of config


async def test_an_admin_disables_a_rule_of_config_by_name(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        admin = await user_headers(client.gateway, "admin")
        rule = {"name": "spo2-low", "metric": "spo2", "comparison": "<", "value": 90, "enabled": False}
        r = await client.put("/plugins/devices/rules/spo2-low", json=rule, headers=admin)
        assert r.status_code == 200 and r.json()["source"] == "api"
        _, key = await register(client)
        await upload(client, key, [reading("r-1", value=85)])
        assert (await client.get(ALERTS, headers=admin)).json()["items"] == []
        assert (await client.delete("/plugins/devices/rules/spo2-low", headers=admin)).status_code == 204
        await upload(client, key, [reading("r-2", value=85)])  # the rule of config applies again
        assert len((await client.get(ALERTS, headers=admin)).json()["items"]) == 1
        assert (await client.delete("/plugins/devices/rules/spo2-low", headers=admin)).status_code == 409


async def test_a_bad_rule_is_refused_with_its_field(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        admin = await user_headers(client.gateway, "admin")
        rule = {"name": "x", "metric": "mood", "comparison": ">", "value": 1}
        r = await client.post("/plugins/devices/rules", json=rule, headers=admin)
        assert r.status_code == 422 and "unknown metric" in r.text


async def test_a_silent_device_alerts_once_and_returns_on_its_next_upload(app_client) -> None:  # type: ignore[no-untyped-def]
    async with running_receiver() as receiver, app_client(**alert_route(receiver)) as client:
        device, key = await register(client)
        later = datetime.now(UTC) + timedelta(hours=2)
        assert await mark_silent_devices(client.gateway, now=later) == 1
        assert await mark_silent_devices(client.gateway, now=later + timedelta(minutes=1)) == 0
        assert (await settle(client.gateway)).get("delivered") == 1
        [sent] = receiver.bodies()
        assert sent["extra"]["alert"] == "device_silent" and sent["extra"]["device"]["serial"] == "SN-1"
        viewer = await user_headers(client.gateway, "viewer")
        assert (await client.get(f"{DEVICES}/{device['id']}", headers=viewer)).json()["status"] == "silent"
        await upload(client, key, [reading("r-1")])
        assert (await client.get(f"{DEVICES}/{device['id']}", headers=viewer)).json()["status"] == "active"
