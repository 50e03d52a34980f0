"""POST /webhooks/devices: a device's batch is answered item by item, stored once, in canonical units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from core.testing import user_headers
from plugins.devices.models import readings
from tests.devices.device_steps import DEVICES, UPLOAD, reading, register, upload


async def stored_readings(gateway):  # type: ignore[no-untyped-def]
    async with gateway.db.transaction() as conn:
        return list(await conn.execute(sa.select(readings).order_by(readings.c.reading_id)))


async def test_a_mixed_batch_gets_an_answer_per_item(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        _, key = await register(client)
        await upload(client, key, [reading("r-1")])
        future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        answer = await upload(
            client,
            key,
            [
                reading("r-2", value=95),
                reading("r-1"),  # sent before: a duplicate
                reading("r-3", value=140),  # SpO₂ of 140 %
                reading("r-4", metric="mood", value=3, unit="smiles"),
                reading("r-5", measured_at=future),
                reading("r-6", metric="weight", value=154, unit="lb"),
            ],
        )
        assert answer["accepted"] == 2 and answer["duplicates"] == 1
        rejected = {r["index"]: r for r in answer["rejected"]}
        assert sorted(rejected) == [2, 3, 4]
        assert rejected[2]["id"] == "r-3" and rejected[2]["errors"][0]["field"] == "value"
        assert "outside the possible range" in rejected[2]["errors"][0]["message"]
        assert rejected[3]["id"] == "r-4" and rejected[3]["errors"][0]["field"] == "metric"
        assert rejected[4]["id"] == "r-5" and rejected[4]["errors"][0]["field"] == "measured_at"
        rows = {r.reading_id: r for r in await stored_readings(client.gateway)}
        assert sorted(rows) == ["r-1", "r-2", "r-6"]
        weight = rows["r-6"]
        assert (weight.unit, weight.original_value, weight.original_unit) == ("kg", 154, "lb")
        assert abs(weight.value - 69.853) < 0.001


async def test_a_retried_batch_stores_nothing_twice(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        _, key = await register(client)
        batch = [reading(f"r-{i}") for i in range(5)]
        assert (await upload(client, key, batch))["accepted"] == 5
        assert await upload(client, key, batch) == {"accepted": 0, "duplicates": 5, "rejected": []}
        assert len(await stored_readings(client.gateway)) == 5
        async with client.gateway.db.transaction() as conn:
            count = await conn.scalar(sa.text("SELECT count(*) FROM messages WHERE kind = 'reading'"))
        assert count == 5


async def test_each_accepted_reading_is_a_message_with_canonical_values(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        device, key = await register(client, type="thermometer", subject="P-9")
        await upload(client, key, [reading("t-1", metric="temperature", value=98.6, unit="°F")])
        async with client.gateway.db.transaction() as conn:
            row = (await conn.execute(sa.text("SELECT platform, kind, external_id, extra FROM messages"))).one()
        extra = row.extra if isinstance(row.extra, dict) else __import__("json").loads(row.extra)
        assert (row.platform, row.kind) == ("devices", "reading")
        assert row.external_id.endswith(":t-1")
        assert extra["metric"] == "temperature" and extra["unit"] == "°C" and abs(extra["value"] - 37.0) < 0.001
        assert extra["original_unit"] == "°F" and extra["subject"] == "P-9" and extra["device_id"] == device["id"]


async def test_blood_pressure_needs_systolic_above_diastolic(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        _, key = await register(client, type="bp_monitor")
        bp = {"metric": "blood_pressure", "unit": "mmHg", "measured_at": reading("x")["measured_at"]}
        answer = await upload(
            client,
            key,
            [bp | {"id": "b-1", "systolic": 120, "diastolic": 80}, bp | {"id": "b-2", "systolic": 80, "diastolic": 90}],
        )
        assert answer["accepted"] == 1
        [bad] = answer["rejected"]
        assert bad["index"] == 1 and bad["errors"] == [{"field": "systolic", "message": "must be above diastolic"}]


async def test_a_body_that_is_not_a_readings_list_stores_nothing(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(plugins={"devices": {"max_readings": 3}}) as client:
        _, key = await register(client)
        headers = {"X-API-Key": key, "Content-Type": "application/json"}
        r = await client.post(UPLOAD, content=b"{not json", headers=headers)
        assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
        r = await client.post(UPLOAD, json={"items": []}, headers=headers)
        assert r.status_code == 400
        r = await client.post(UPLOAD, json={"readings": [reading(f"r-{i}") for i in range(4)]}, headers=headers)
        assert r.status_code == 413
        assert await stored_readings(client.gateway) == []


async def test_uploads_need_a_device_key(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        r = await client.post(UPLOAD, json={"readings": [reading("r-1")]})
        assert r.status_code == 401
        admin = await user_headers(client.gateway, "admin")
        r = await client.post(UPLOAD, json={"readings": [reading("r-1")]}, headers=admin)
        assert r.status_code == 403


async def test_a_deactivated_device_key_is_refused_at_once(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        device, key = await register(client)
        await upload(client, key, [reading("r-1")])
        operator = await user_headers(client.gateway, "operator")
        r = await client.post(f"{DEVICES}/{device['id']}/deactivate", headers=operator)
        assert r.status_code == 200 and r.json()["status"] == "inactive"
        await upload(client, key, [reading("r-2")], status=401)


async def test_a_rotated_key_replaces_the_old_one_after_its_grace(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(plugins={"devices": {"rotation_grace": 0}}) as client:
        device, old = await register(client)
        operator = await user_headers(client.gateway, "operator")
        r = await client.post(f"{DEVICES}/{device['id']}/rotate-key", headers=operator)
        assert r.status_code == 200, r.text
        new = r.json()["api_key"]
        await upload(client, old, [reading("r-1")], status=401)
        assert (await upload(client, new, [reading("r-1")]))["accepted"] == 1


async def test_a_rotated_key_keeps_working_during_its_grace(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        device, old = await register(client)
        operator = await user_headers(client.gateway, "operator")
        r = await client.post(f"{DEVICES}/{device['id']}/rotate-key", headers=operator)
        assert r.json()["old_key_valid_until"] is not None
        assert (await upload(client, old, [reading("r-1")]))["accepted"] == 1
        assert (await upload(client, r.json()["api_key"], [reading("r-2")]))["accepted"] == 1


async def test_a_rotation_asked_with_no_grace_stops_the_old_key_at_once(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:  # rotation_grace: the default day
        device, old = await register(client)
        operator = await user_headers(client.gateway, "operator")
        r = await client.post(f"{DEVICES}/{device['id']}/rotate-key", json={"grace_seconds": 0}, headers=operator)
        assert r.status_code == 200, r.text
        await upload(client, old, [reading("r-1")], status=401)
        assert (await upload(client, r.json()["api_key"], [reading("r-1")]))["accepted"] == 1


async def test_a_rotation_with_a_bad_grace_is_refused_and_changes_nothing(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        device, old = await register(client)
        operator = await user_headers(client.gateway, "operator")
        for body in ({"grace_seconds": -1}, {"grace_seconds": "soon"}, {"grace": 0}):
            r = await client.post(f"{DEVICES}/{device['id']}/rotate-key", json=body, headers=operator)
            assert r.status_code == 422, r.text
        assert (await upload(client, old, [reading("r-1")]))["accepted"] == 1


async def test_a_deactivated_device_is_reactivated_with_a_new_key(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        device, old = await register(client)
        operator = await user_headers(client.gateway, "operator")
        await client.post(f"{DEVICES}/{device['id']}/deactivate", headers=operator)
        r = await client.post(f"{DEVICES}/{device['id']}/reactivate", headers=operator)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "active" and r.json()["serial"] == device["serial"]
        await upload(client, old, [reading("r-1")], status=401)
        assert (await upload(client, r.json()["api_key"], [reading("r-1")]))["accepted"] == 1


async def test_an_active_device_is_not_reactivated(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        device, key = await register(client)
        operator = await user_headers(client.gateway, "operator")
        r = await client.post(f"{DEVICES}/{device['id']}/reactivate", headers=operator)
        assert r.status_code == 409, r.text
        assert (await upload(client, key, [reading("r-1")]))["accepted"] == 1
        viewer = await user_headers(client.gateway, "viewer")
        assert (await client.post(f"{DEVICES}/{device['id']}/reactivate", headers=viewer)).status_code == 403
