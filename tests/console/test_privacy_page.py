"""The console's Privacy page (admins): erasing a person after a confirmation, exporting their data."""

from __future__ import annotations

from core.testing import GatewayClient
from tests.console.conftest import log_in
from tests.support.privacy import dump_text, seed_person

ALICE, BOB = "+256700000001", "+256700000002"


async def test_an_erasure_asks_for_confirmation_then_erases_and_shows_what_it_erased(gw: GatewayClient) -> None:
    await seed_person(gw.gateway, ALICE, count=2)
    await seed_person(gw.gateway, BOB, count=1)
    token = await log_in(gw, "admin")
    asked = await gw.post("/admin/privacy/erase", data={"csrf_token": token, "participant": ALICE})
    assert asked.status_code == 200 and 'name="confirmed" value="yes"' in asked.text
    assert ALICE in await dump_text(gw.gateway)  # nothing erased before the confirmation
    done = await gw.post("/admin/privacy/erase", data={"csrf_token": token, "participant": ALICE, "confirmed": "yes"})
    assert done.status_code == 303 and done.headers["location"] == "/admin/privacy"
    page = await gw.get("/admin/privacy")
    assert "Erased: " in page.text and "messages 3" in page.text
    text = await dump_text(gw.gateway)
    assert ALICE not in text and BOB in text


async def test_an_erasure_without_the_csrf_token_is_refused(gw: GatewayClient) -> None:
    await seed_person(gw.gateway, ALICE, count=1)
    await log_in(gw, "admin")
    r = await gw.post("/admin/privacy/erase", data={"participant": ALICE, "confirmed": "yes"})
    assert r.status_code == 403
    assert ALICE in await dump_text(gw.gateway)


async def test_an_empty_participant_is_shown_beside_the_field(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    r = await gw.post("/admin/privacy/erase", data={"csrf_token": token, "participant": "  "})
    assert r.status_code == 422 and 'id="error-participant"' in r.text


async def test_the_page_is_for_admins_only(gw: GatewayClient) -> None:
    await seed_person(gw.gateway, ALICE, count=1)
    for role in ("viewer", "operator"):
        token = await log_in(gw, role)
        assert (await gw.get("/admin/privacy")).status_code == 403
        r = await gw.post("/admin/privacy/erase", data={"csrf_token": token, "participant": ALICE, "confirmed": "yes"})
        assert r.status_code == 403
    assert ALICE in await dump_text(gw.gateway)


async def test_an_export_started_from_the_page_is_listed(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    r = await gw.post("/admin/privacy/export", data={"csrf_token": token, "participant": ALICE})
    assert r.status_code == 303
    page = await gw.get("/admin/privacy")
    assert "Export started" in page.text and "<td>export</td>" in page.text
