"""The API for people: devices, heartbeats, readings and a subject's summary, with their roles."""

from __future__ import annotations

from core.testing import user_headers
from tests.devices.device_steps import DEVICES, reading, register, upload


async def test_viewers_may_not_register_devices(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        viewer = await user_headers(client.gateway, "viewer")
        body = {"serial": "SN-1", "type": "scale", "facility": "FAC-1"}
        assert (await client.post(DEVICES, json=body, headers=viewer)).status_code == 403


async def test_a_serial_number_is_registered_once(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        await register(client, "SN-1")
        operator = await user_headers(client.gateway, "operator")
        r = await client.post(DEVICES, json={"serial": "SN-1", "type": "scale", "facility": "F"}, headers=operator)
        assert r.status_code == 409


async def test_a_bad_registration_names_its_fields(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        operator = await user_headers(client.gateway, "operator")
        r = await client.post(DEVICES, json={"serial": "SN-1", "type": "toaster"}, headers=operator)
        assert r.status_code == 422
        assert {e["field"] for e in r.json()["errors"]} >= {"type"}
        r = await client.post(DEVICES, content=b"[", headers=operator | {"Content-Type": "application/json"})
        assert r.status_code == 400


async def test_bodies_and_path_ids_are_read_as_the_core_reads_them(app_client) -> None:  # type: ignore[no-untyped-def]
    """core.read_json's 415 for a body that is not JSON, core.path_uuid's 404 for a malformed id."""
    async with app_client() as client:
        operator = await user_headers(client.gateway, "operator")
        body = b'{"serial": "SN-1", "type": "scale", "facility": "F"}'
        r = await client.post(DEVICES, content=body, headers=operator | {"Content-Type": "text/plain"})
        assert r.status_code == 415 and "application/json" in r.json()["error"]
        r = await client.get(f"{DEVICES}/not-a-uuid", headers=operator)
        assert r.status_code == 404 and r.json()["error"] == "no such device"


async def test_devices_are_listed_by_type_in_pages(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        for i in range(3):
            await register(client, f"SN-{i}", type="scale")
        await register(client, "SN-X", type="glucometer")
        viewer = await user_headers(client.gateway, "viewer")
        first = (await client.get(DEVICES, params={"type": "scale", "limit": 2}, headers=viewer)).json()
        assert [d["serial"] for d in first["items"]] == ["SN-0", "SN-1"]
        rest = (
            await client.get(DEVICES, params={"type": "scale", "cursor": first["next_cursor"]}, headers=viewer)
        ).json()
        assert [d["serial"] for d in rest["items"]] == ["SN-2"] and rest["next_cursor"] is None
        assert "api_key" not in first["items"][0]


async def test_an_operator_updates_a_device_and_an_admin_deletes_it(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        device, key = await register(client)
        operator = await user_headers(client.gateway, "operator")
        r = await client.patch(
            f"{DEVICES}/{device['id']}", json={"subject": "P-2", "metadata": {"ward": 3}}, headers=operator
        )
        assert r.status_code == 200 and r.json()["subject"] == "P-2" and r.json()["metadata"] == {"ward": 3}
        assert (await client.delete(f"{DEVICES}/{device['id']}", headers=operator)).status_code == 403
        admin = await user_headers(client.gateway, "admin")
        assert (await client.delete(f"{DEVICES}/{device['id']}", headers=admin)).status_code == 204
        assert (await client.get(f"{DEVICES}/{device['id']}", headers=admin)).status_code == 404
        await upload(client, key, [reading("r-1")], status=401)


async def test_a_heartbeat_records_the_devices_status(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        device, key = await register(client)
        r = await client.post(
            "/webhooks/devices/heartbeat",
            json={"firmware": "2.1.0", "battery": 64, "signal": -71},
            headers={"X-API-Key": key},
        )
        assert r.status_code == 200, r.text
        viewer = await user_headers(client.gateway, "viewer")
        seen = (await client.get(f"{DEVICES}/{device['id']}", headers=viewer)).json()
        assert (seen["firmware"], seen["battery"], seen["signal"]) == ("2.1.0", 64, -71)
        assert seen["last_seen_at"] is not None and seen["last_reading_at"] is None
        bad = await client.post("/webhooks/devices/heartbeat", json={"battery": 250}, headers={"X-API-Key": key})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "battery"


async def test_the_old_heartbeat_path_still_answers(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        device, key = await register(client)
        r = await client.post("/plugins/devices/heartbeat", json={"firmware": "2.2.0"}, headers={"X-API-Key": key})
        assert r.status_code == 200, r.text
        viewer = await user_headers(client.gateway, "viewer")
        assert (await client.get(f"{DEVICES}/{device['id']}", headers=viewer)).json()["firmware"] == "2.2.0"


async def test_a_heartbeat_needs_the_devices_own_active_key(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        device, key = await register(client)
        path = "/webhooks/devices/heartbeat"
        assert (await client.post(path, json={})).status_code == 401
        assert (await client.post(path, json={}, headers={"X-API-Key": key + "x"})).status_code == 401
        admin = await user_headers(client.gateway, "admin")
        assert (await client.post(path, json={}, headers=admin)).status_code == 403
        operator = await user_headers(client.gateway, "operator")
        await client.post(f"{DEVICES}/{device['id']}/deactivate", headers=operator)
        refused = await client.post(path, json={}, headers={"X-API-Key": key})
        assert refused.status_code == 401, refused.text
        assert (await client.get(f"{DEVICES}/{device['id']}", headers=admin)).json()["last_seen_at"] is None


async def test_readings_are_filtered_and_paged(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        _, key = await register(client, subject="P-1")
        await upload(client, key, [reading(f"s-{i}", value=95 + i) for i in range(3)])
        await upload(client, key, [reading("h-1", "heart_rate", 70, "bpm", subject="P-2")])
        viewer = await user_headers(client.gateway, "viewer")
        page = (
            await client.get("/plugins/devices/readings", params={"subject": "P-1", "limit": 2}, headers=viewer)
        ).json()
        assert [r["reading_id"] for r in page["items"]] == ["s-2", "s-1"]
        rest = await client.get(
            "/plugins/devices/readings", params={"subject": "P-1", "cursor": page["next_cursor"]}, headers=viewer
        )
        assert [r["reading_id"] for r in rest.json()["items"]] == ["s-0"]
        hr = await client.get("/plugins/devices/readings", params={"metric": "heart_rate"}, headers=viewer)
        assert [r["subject"] for r in hr.json()["items"]] == ["P-2"]
        bad = await client.get("/plugins/devices/readings", params={"since": "yesterday"}, headers=viewer)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "since"


async def test_a_subjects_summary_gives_each_metric(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        _, key = await register(client, subject="P-1", type="bp_monitor")
        bp = {"metric": "blood_pressure", "unit": "mmHg"}
        await upload(
            client,
            key,
            [
                reading("s-1", value=94) | {"measured_at": reading("x")["measured_at"]},
                reading("s-2", value=98),
                bp | {"id": "b-1", "systolic": 130, "diastolic": 85, "measured_at": reading("x")["measured_at"]},
            ],
        )
        viewer = await user_headers(client.gateway, "viewer")
        r = await client.get("/plugins/devices/subjects/P-1/summary", params={"period": "day"}, headers=viewer)
        assert r.status_code == 200, r.text
        metrics = r.json()["metrics"]
        assert metrics["spo2"]["count"] == 2 and metrics["spo2"]["min"] == 94 and metrics["spo2"]["max"] == 98
        assert metrics["spo2"]["mean"] == 96
        assert (
            metrics["blood_pressure"]["systolic"]["last"] == 130 and metrics["blood_pressure"]["diastolic"]["max"] == 85
        )
        bad = await client.get("/plugins/devices/subjects/P-1/summary", params={"period": "year"}, headers=viewer)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "period"


async def test_a_bad_list_filter_is_a_422_naming_it_as_the_cores_lists_answer(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        viewer = await user_headers(client.gateway, "viewer")
        for path, params, field in (
            (DEVICES, {"status": "asleep"}, "status"),
            (DEVICES, {"limit": "many"}, "limit"),
            ("/plugins/devices/alerts", {"state": "bogus"}, "state"),
            (DEVICES, {"colour": "red"}, "colour"),
        ):
            r = await client.get(path, params=params, headers=viewer)
            assert r.status_code == 422, (path, params, r.text)
            assert [e["field"] for e in r.json()["errors"]] == [field]
        core = await client.get(
            "/api/logs", params={"kind": "bogus"}, headers=await user_headers(client.gateway, "operator")
        )
        assert core.status_code == 422 and set(core.json()) == set(r.json())
