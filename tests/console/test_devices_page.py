"""The console's Devices and alerts page (the devices plugin's ``switchboard_admin_pages``), over HTTP."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import sqlalchemy as sa

from core.auth.users import create_user
from core.testing import GatewayClient
from plugins.devices.models import alerts, devices
from tests.console.conftest import PASSWORD, XSS, log_in
from tests.devices.device_steps import reading, register, upload

PAGE = "/admin/devices/"
ALERTS = PAGE + "alerts"
HTMX = {"HX-Request": "true"}
DEVICE = {"serial": "OX-1", "type": "pulse_oximeter", "model": "PX-100", "facility": "FAC-001", "subject": "P-1"}


@pytest.fixture
async def gw(app_client: Callable[..., Any]) -> AsyncIterator[GatewayClient]:
    async with app_client() as client:
        for role in ("viewer", "operator", "admin"):
            await create_user(client.gateway, role, PASSWORD, role)
        yield client


async def stored_serials(gw: GatewayClient) -> list[str]:
    async with gw.gateway.db.transaction() as conn:
        return list((await conn.execute(sa.select(devices.c.serial).order_by(devices.c.serial))).scalars())


def key_in(html: str) -> str | None:
    match = re.search(r'<code id="secret">([^<]+)</code>', html)
    return match.group(1) if match else None


async def register_through_the_form(gw: GatewayClient, token: str, **fields: str) -> Any:
    return await gw.post(PAGE + "register", data={"csrf_token": token, **DEVICE, **fields})


async def test_the_page_is_in_the_navigation_and_lists_the_devices(gw: GatewayClient) -> None:
    await register(gw, "SN-1")
    await register(gw, "SN-2", type="thermometer")
    await log_in(gw, "viewer")
    assert 'href="/admin/devices"' in (await gw.get("/admin/")).text
    page = await gw.get(PAGE)
    assert page.status_code == 200 and "SN-1" in page.text and "SN-2" in page.text


async def test_filters_answer_htmx_with_the_results_only(gw: GatewayClient) -> None:
    await register(gw, "SN-1")
    await register(gw, "SN-2", type="thermometer", facility="FAC-002")
    await log_in(gw, "viewer")
    by_type = await gw.get(PAGE, params={"type": "thermometer", "facility": "", "status": ""}, headers=HTMX)
    assert "<html" not in by_type.text and "SN-2" in by_type.text and "SN-1" not in by_type.text
    by_facility = await gw.get(PAGE, params={"facility": "FAC-001"})
    assert "SN-1" in by_facility.text and "SN-2" not in by_facility.text
    assert "SN-1" not in (await gw.get(PAGE, params={"status": "inactive"})).text


async def test_a_bad_filter_is_a_422_naming_it(gw: GatewayClient) -> None:
    await log_in(gw, "viewer")
    r = await gw.get(PAGE, params={"status": "asleep"})
    assert r.status_code == 422 and "status" in r.text


def link(html: str, rel: str) -> str:
    """The href of the pager's link with ``rel`` (next: Older, prev: Newer), unescaped."""
    match = re.search(r'<a href="([^"]+)"[^>]*rel="' + rel + '">', html)
    assert match, f"no {rel} link"
    return match.group(1).replace("&amp;", "&")


async def test_the_list_is_paged_newest_first_both_ways_with_its_total_keeping_its_filters(
    app_client: Callable[..., Any],
) -> None:
    async with app_client(plugins={"admin": {"page_size": 5}}) as gw:
        await create_user(gw.gateway, "viewer", PASSWORD, "viewer")
        for i in range(6):
            await register(gw, f"SN-{i}")
        await register(gw, "OTHER", facility="FAC-XXX")
        await log_in(gw, "viewer")
        first = await gw.get(PAGE, params={"facility": "FAC-001"})
        assert "SN-5" in first.text and "SN-1" in first.text and "SN-0" not in first.text and "OTHER" not in first.text
        assert "6 devices" in first.text and 'rel="prev"' not in first.text and "Newest" not in first.text
        older = link(first.text, "next")
        assert "facility=FAC-001" in older
        second = await gw.get(older, headers=HTMX)
        assert "SN-0" in second.text and "SN-1" not in second.text and "OTHER" not in second.text
        assert 'rel="next"' not in second.text and "Newest" in second.text
        newer = await gw.get(link(second.text, "prev"), headers=HTMX)  # back the way it came
        assert "SN-1" in newer.text and "SN-5" in newer.text and "SN-0" not in newer.text
        assert (await gw.get(PAGE, params={"before": "not-an-id"})).status_code == 422


async def test_an_operator_registers_a_device_and_sees_its_key_once(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    posted = await register_through_the_form(gw, token)
    # Post/redirect/get: a reload of the page shown repeats nothing, and the key is not in the URL.
    assert posted.status_code == 303 and posted.headers["location"].startswith(PAGE) and "sb_" not in posted.text
    r = await gw.get(posted.headers["location"])
    assert r.status_code == 200 and "Device OX-1 registered" in r.text
    key = key_in(r.text)
    assert key and key.startswith("sb_") and key not in posted.headers["location"]
    assert await stored_serials(gw) == ["OX-1"]
    assert await upload(gw, key, [reading("r-1")])  # the key works
    (device_id,) = re.findall(r"<code>([0-9a-f-]{36})</code>", r.text)
    assert posted.headers["location"] == PAGE + device_id
    again = await gw.get(PAGE + device_id)
    assert again.status_code == 200 and key_in(again.text) is None and key not in again.text
    assert key not in (await gw.get(PAGE)).text


async def test_a_bad_registration_shows_the_field_error_and_stores_nothing(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    r = await register_through_the_form(gw, token, type="toaster")
    assert r.status_code == 422 and 'id="error-type"' in r.text and 'value="OX-1"' in r.text
    r = await register_through_the_form(gw, token, facility="")
    assert r.status_code == 422 and "facility (or org_unit) is required" in r.text
    r = await register_through_the_form(gw, token, serial="x" * 200)
    assert r.status_code == 422 and 'id="error-serial"' in r.text
    assert await stored_serials(gw) == []


async def test_a_taken_serial_number_is_a_409(gw: GatewayClient) -> None:
    await register(gw, "OX-1")
    token = await log_in(gw, "operator")
    r = await register_through_the_form(gw, token)
    assert r.status_code == 409 and "registered already" in r.text


async def test_a_device_page_shows_its_state_and_recent_readings(gw: GatewayClient) -> None:
    device, key = await register(gw, "SN-1")
    await upload(gw, key, [reading("r-1", value=97), reading("r-2", value=96)])
    async with gw.gateway.db.transaction() as conn:
        await conn.execute(devices.update().values(battery=81.5, firmware="2.4.1"))
    await log_in(gw, "viewer")
    page = await gw.get(PAGE + device["id"])
    assert page.status_code == 200
    assert "81.5 %" in page.text and "2.4.1" in page.text and "SN-1" in page.text
    assert page.text.count("spo2") >= 2 and "97 %" in page.text and "96 %" in page.text
    assert 'id="rotate-key"' not in page.text and 'id="deactivate"' not in page.text  # a viewer
    assert (await gw.get(PAGE + "not-a-uuid")).status_code == 404


async def test_an_operator_rotates_a_key_and_sees_the_new_one_once(gw: GatewayClient) -> None:
    device, old_key = await register(gw, "SN-1")
    token = await log_in(gw, "operator")
    posted = await gw.post(f"{PAGE}{device['id']}/rotate-key", data={"csrf_token": token})
    assert posted.status_code == 303 and posted.headers["location"] == PAGE + device["id"]
    r = await gw.get(posted.headers["location"])
    new_key = key_in(r.text)
    assert r.status_code == 200 and new_key and new_key != old_key and "the old key keeps working until" in r.text
    await upload(gw, new_key, [reading("r-1")])
    assert key_in((await gw.get(PAGE + device["id"])).text) is None  # shown once: a reload does not show it


async def test_an_operator_reactivates_a_deactivated_device_with_a_new_key_shown_once(gw: GatewayClient) -> None:
    device, old_key = await register(gw, "SN-1")
    token = await log_in(gw, "operator")
    page = await gw.get(PAGE + device["id"])
    assert 'id="reactivate"' not in page.text  # an active device has its key rotated instead
    await gw.post(f"{PAGE}{device['id']}/deactivate", data={"csrf_token": token})
    page = await gw.get(PAGE + device["id"])
    assert 'id="reactivate"' in page.text
    posted = await gw.post(f"{PAGE}{device['id']}/reactivate", data={"csrf_token": token})
    assert posted.status_code == 303 and posted.headers["location"] == PAGE + device["id"]
    r = await gw.get(posted.headers["location"])
    new_key = key_in(r.text)
    assert new_key and new_key != old_key and "reactivated" in r.text and "s-active" in r.text
    await upload(gw, new_key, [reading("r-1")])
    await upload(gw, old_key, [reading("r-2")], status=401)
    assert key_in((await gw.get(PAGE + device["id"])).text) is None
    again = await gw.post(f"{PAGE}{device['id']}/reactivate", data={"csrf_token": token})
    assert again.status_code == 409 and "not deactivated" in again.text


async def test_an_operator_deactivates_a_device_and_its_key_stops(gw: GatewayClient) -> None:
    device, key = await register(gw, "SN-1")
    token = await log_in(gw, "operator")
    r = await gw.post(f"{PAGE}{device['id']}/deactivate", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == PAGE + device["id"]
    page = await gw.get(PAGE + device["id"])
    assert "s-inactive" in page.text and 'id="rotate-key"' not in page.text
    await upload(gw, key, [reading("r-1")], status=401)


async def test_a_viewer_sees_no_buttons_and_is_refused_every_change(gw: GatewayClient) -> None:
    device, _ = await register(gw, "SN-1")
    _, key = await register(gw, "SN-2")
    await upload(gw, key, [reading("r-1", value=80)])
    token = await log_in(gw, "viewer")
    assert 'id="register-form"' not in (await gw.get(PAGE)).text
    listed = await gw.get(ALERTS)
    assert "spo2-low" in listed.text and "Acknowledge" not in listed.text
    (alert_id,) = re.findall(r'id="alert-([0-9a-f-]{36})"', listed.text)
    for path in (
        "register",
        f"{device['id']}/deactivate",
        f"{device['id']}/rotate-key",
        f"{device['id']}/reactivate",
        "alerts/acknowledge",
        f"alerts/{alert_id}/acknowledge",
    ):
        assert (await gw.post(PAGE + path, data={"csrf_token": token, **DEVICE})).status_code == 403, path
    assert await stored_serials(gw) == ["SN-1", "SN-2"]
    async with gw.gateway.db.transaction() as conn:
        assert (await conn.execute(sa.select(alerts.c.acknowledged_at))).scalar_one() is None


async def test_a_form_without_its_csrf_token_is_refused(gw: GatewayClient) -> None:
    await log_in(gw, "operator")
    assert (await gw.post(PAGE + "register", data=DEVICE)).status_code == 403
    assert await stored_serials(gw) == []


async def test_alerts_list_severity_subject_and_reading_and_filter_on_state(gw: GatewayClient) -> None:
    _, key = await register(gw, "SN-1")
    await upload(gw, key, [reading("r-1", value=85, subject="P-7")])
    await log_in(gw, "viewer")
    page = await gw.get(ALERTS, params={"state": "open"})
    row = re.search(r'<tr id="alert-.*?</tr>', page.text, re.S)
    assert row, page.text
    assert "critical" in row.group(0) and "P-7" in row.group(0) and "85 %" in row.group(0) and "SN-1" in row.group(0)
    acknowledged = await gw.get(ALERTS, params={"state": "acknowledged"}, headers=HTMX)
    assert "<html" not in acknowledged.text and "No alerts match." in acknowledged.text
    assert (await gw.get(ALERTS, params={"state": "closed"})).status_code == 422


async def test_an_operator_acknowledges_an_alert_in_place_or_by_a_form(gw: GatewayClient) -> None:
    _, key = await register(gw, "SN-1")
    await upload(gw, key, [reading("r-1", value=85, subject="P-7"), reading("r-2", value=80, subject="P-8")])
    token = await log_in(gw, "operator")
    first, second = re.findall(r'id="alert-([0-9a-f-]{36})"', (await gw.get(ALERTS)).text)
    r = await gw.post(f"{ALERTS}/{first}/acknowledge", headers=HTMX | {"X-CSRF-Token": token})
    assert r.status_code == 200 and r.text.strip().startswith(f'<tr id="alert-{first}"')
    assert "acknowledged by user:operator" in r.text and "<html" not in r.text
    r = await gw.post(f"{ALERTS}/{second}/acknowledge", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == ALERTS
    assert "No alerts match." in (await gw.get(ALERTS, params={"state": "open"})).text


async def test_text_from_devices_is_shown_as_text(gw: GatewayClient) -> None:
    device, key = await register(gw, "SN-1", model=XSS, facility=XSS)
    await upload(gw, key, [reading("r-1", value=80, subject=XSS)])
    await log_in(gw, "viewer")
    for path in (PAGE, PAGE + device["id"], ALERTS):
        page = await gw.get(path)
        assert page.status_code == 200 and XSS not in page.text and "&lt;script&gt;" in page.text, path


async def test_a_taken_serial_number_is_shown_beside_its_input_with_what_was_typed(gw: GatewayClient) -> None:
    await register(gw, "OX-1")
    token = await log_in(gw, "operator")
    r = await register_through_the_form(gw, token, facility="FAC-TYPED")
    assert r.status_code == 409 and r.headers["content-type"].startswith("text/html")
    assert "registered already" in r.text and 'value="FAC-TYPED"' in r.text
    assert await stored_serials(gw) == ["OX-1"]


async def test_alerts_show_their_total_and_an_operator_acknowledges_the_ticked_ones(gw: GatewayClient) -> None:
    for i in range(3):  # one open alert per device and rule
        _, key = await register(gw, f"SN-{i}", subject=f"P-{i}")
        await upload(gw, key, [reading(f"r-{i}", value=80, subject=f"P-{i}")])
    token = await log_in(gw, "operator")
    listed = await gw.get(ALERTS)
    assert "3 alerts" in listed.text and 'id="acknowledge-ticked"' in listed.text
    ids = re.findall(r'name="id" value="([0-9a-f-]{36})" form="ticked"', listed.text)
    assert len(ids) == 3
    r = await gw.post(f"{ALERTS}/acknowledge", data={"csrf_token": token, "id": ids[:2], "back": "state=open"})
    assert r.status_code == 303 and r.headers["location"] == ALERTS + "?state=open"
    shown = await gw.get(r.headers["location"])
    assert "2 alerts acknowledged" in shown.text and '<p class="total">1 alert</p>' in shown.text
    async with gw.gateway.db.transaction() as conn:
        acknowledged = (await conn.execute(sa.select(alerts.c.acknowledged_at.is_not(None)))).scalars().all()
    assert sorted(acknowledged) == [False, True, True]
    none = await gw.post(f"{ALERTS}/acknowledge", data={"csrf_token": token})
    assert none.status_code == 422 and "tick the alerts first" in none.text


async def test_a_device_page_pages_its_readings_both_ways_with_their_total(gw: GatewayClient) -> None:
    device, key = await register(gw, "SN-1")
    await upload(gw, key, [reading(f"r-{i}", value=90 + i % 10) for i in range(25)])
    await log_in(gw, "viewer")
    page = await gw.get(PAGE + device["id"])
    assert "25 readings" in page.text and 'rel="prev"' not in page.text
    older = await gw.get(link(page.text, "next"), headers=HTMX)
    assert "<html" not in older.text and older.text.count('<td class="num">') == 5
    assert "25 readings" in older.text and 'rel="next"' not in older.text
    newer = await gw.get(link(older.text, "prev"), headers=HTMX)
    assert newer.text.count('<td class="num">') == 20 and 'rel="prev"' not in newer.text
