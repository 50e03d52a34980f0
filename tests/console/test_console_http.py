"""The console over plain HTTP (no browser): sessions, CSRF, roles, escaping, the metrics endpoint."""

from __future__ import annotations

import sqlalchemy as sa

from core.storage.models import audit_log, deliveries
from core.testing import GatewayClient, api_key_headers
from tests.console.conftest import PASSWORD, XSS, bearer, csrf_in, dead_delivery, log_in
from tests.support.echo import item, post_echo
from tests.support.receiver import Receiver


async def test_a_page_without_a_session_redirects_to_the_login_page(gw: GatewayClient) -> None:
    r = await gw.get("/admin/deliveries?status=dead")
    assert r.status_code == 303
    assert r.headers["location"] == "/admin/login?next=%2Fadmin%2Fdeliveries%3Fstatus%3Ddead"


async def test_an_htmx_request_without_a_session_is_told_to_go_to_the_login_page(gw: GatewayClient) -> None:
    r = await gw.get("/admin/logs", headers={"HX-Request": "true"})
    assert r.headers["hx-redirect"].startswith("/admin/login")


async def test_login_sets_an_httponly_samesite_cookie_and_opens_the_dashboard(gw: GatewayClient) -> None:
    page = await gw.get("/admin/login")
    r = await gw.post(
        "/admin/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": csrf_in(page.text)}
    )
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("sb_admin="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/admin" in cookie
    assert (await gw.get("/admin/")).status_code == 200


async def test_a_wrong_password_is_refused_and_audited(gw: GatewayClient) -> None:
    page = await gw.get("/admin/login")
    r = await gw.post("/admin/login", data={"username": "viewer", "password": "nope", "csrf_token": csrf_in(page.text)})
    assert r.status_code == 401 and "Invalid username or password" in r.text
    await gw.gateway.audit.flush()
    async with gw.gateway.db.transaction() as conn:
        actions = [
            row.action for row in await conn.execute(sa.select(audit_log.c.action).where(audit_log.c.kind == "auth"))
        ]
    assert "login_failed" in actions


async def test_a_login_without_its_csrf_token_is_refused(gw: GatewayClient) -> None:
    await gw.get("/admin/login")
    r = await gw.post("/admin/login", data={"username": "viewer", "password": PASSWORD})
    assert r.status_code == 403
    assert "sb_admin=" not in r.headers.get("set-cookie", "")


async def test_a_requeue_without_the_csrf_token_is_refused_and_changes_nothing(
    gw: GatewayClient, receiver: Receiver
) -> None:
    delivery_id = await dead_delivery(gw, receiver)
    await log_in(gw, "operator")
    r = await gw.post(f"/admin/deliveries/{delivery_id}/requeue")
    assert r.status_code == 403
    wrong = await gw.post(f"/admin/deliveries/{delivery_id}/requeue", headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    async with gw.gateway.db.transaction() as conn:
        assert (await conn.execute(sa.select(deliveries.c.status))).scalar_one() == "dead"


async def test_an_operator_requeues_with_the_csrf_header(gw: GatewayClient, receiver: Receiver) -> None:
    delivery_id = await dead_delivery(gw, receiver)
    token = await log_in(gw, "operator")
    r = await gw.post(f"/admin/deliveries/{delivery_id}/requeue", headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert r.status_code == 200 and "queued" in r.text


async def test_a_viewer_sees_no_requeue_button_and_is_refused_a_requeue(gw: GatewayClient, receiver: Receiver) -> None:
    delivery_id = await dead_delivery(gw, receiver)
    token = await log_in(gw, "viewer")
    page = await gw.get(f"/admin/deliveries/{delivery_id}")
    assert page.status_code == 200 and "/requeue" not in page.text
    r = await gw.post(f"/admin/deliveries/{delivery_id}/requeue", data={"csrf_token": token})
    assert r.status_code == 403


async def test_a_viewer_may_not_open_the_logs_or_the_users(gw: GatewayClient) -> None:
    await log_in(gw, "viewer")
    assert (await gw.get("/admin/logs")).status_code == 403
    assert (await gw.get("/admin/users")).status_code == 403


async def test_message_text_from_outside_is_shown_as_text(gw: GatewayClient, receiver: Receiver) -> None:
    delivery_id = await dead_delivery(gw, receiver, text=XSS)
    await log_in(gw, "viewer")
    page = await gw.get(f"/admin/deliveries/{delivery_id}")
    assert XSS not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_logging_out_ends_the_session_even_for_a_kept_cookie(gw: GatewayClient) -> None:
    token = await log_in(gw, "viewer")
    kept = dict(gw.cookies)
    await gw.post("/admin/logout", data={"csrf_token": token})
    gw.cookies.clear()
    gw.cookies.update(kept)
    assert (await gw.get("/admin/")).status_code == 303


async def test_the_console_cookie_is_not_an_api_credential(gw: GatewayClient) -> None:
    await log_in(gw, "admin")
    cookie = gw.cookies["sb_admin"]
    r = await gw.get("/api/deliveries", headers={"Authorization": f"Bearer {cookie}"})
    assert r.status_code == 401


async def test_a_user_whose_password_was_reset_is_sent_to_change_it(gw: GatewayClient) -> None:
    from core.auth.users import find_user, set_password

    user = await find_user(gw.gateway, "operator")
    await set_password(gw.gateway, user.id, PASSWORD + "x", must_change=True)
    gw.cookies.clear()
    page = await gw.get("/admin/login")
    r = await gw.post(
        "/admin/login", data={"username": "operator", "password": PASSWORD + "x", "csrf_token": csrf_in(page.text)}
    )
    assert r.headers["location"] == "/admin/password"
    assert (await gw.get("/admin/deliveries")).headers["location"] == "/admin/password"


async def test_bulk_requeue_confirms_the_count_first(gw: GatewayClient, receiver: Receiver) -> None:
    await dead_delivery(gw, receiver)
    token = await log_in(gw, "operator")
    r = await gw.post("/admin/deliveries/bulk", data={"csrf_token": token, "action": "requeue", "status": "dead"})
    assert "Requeue 1 delivery?" in r.text
    async with gw.gateway.db.transaction() as conn:
        assert (await conn.execute(sa.select(deliveries.c.status))).scalar_one() == "dead"


async def test_metrics_summary_counts_deliveries_by_status(gw: GatewayClient, receiver: Receiver) -> None:
    await dead_delivery(gw, receiver)
    r = await gw.get("/api/metrics/summary", headers=await bearer(gw, "viewer"))
    body = r.json()
    assert body["deliveries"]["dead"] == 1 and body["messages"]["total"] == 1
    assert body["created"] == 1 and body["attempts"] == {"delivered": 0, "retry": 0, "dead": 1}
    assert body["destinations"] == [
        {"destination": "crm", "created": 1, "delivered": 0, "retries": 0, "dead": 1, "success_rate": 0.0}
    ]
    assert len(body["volume"]) == 24


async def test_metrics_summary_needs_the_metrics_scope_for_a_key(gw: GatewayClient) -> None:
    assert (
        await gw.get("/api/metrics/summary", headers=await api_key_headers(gw.gateway, ["metrics:read"]))
    ).status_code == 200
    assert (
        await gw.get("/api/metrics/summary", headers=await api_key_headers(gw.gateway, ["messages:read"]))
    ).status_code == 403


async def test_the_main_pages_render_for_an_admin(gw: GatewayClient, receiver: Receiver) -> None:
    await dead_delivery(gw, receiver)
    await post_echo(gw, item("m2"))
    await log_in(gw, "admin")
    for path in (
        "/admin/",
        "/admin/?window=7d",
        "/admin/deliveries",
        "/admin/logs",
        "/admin/conversations",
        "/admin/plugins",
        "/admin/users",
        "/admin/keys",
    ):
        r = await gw.get(path)
        assert r.status_code == 200, (path, r.text[:300])


async def test_a_requeued_delivery_says_how_often_and_when_it_was_requeued(gw: GatewayClient, receiver: Receiver) -> None:
    # Nothing showed that a delivery had been requeued (by whom is in the audit log): its
    # attempts just went past the destination's max_attempts.
    from core.testing import settle

    delivery_id = await dead_delivery(gw, receiver)  # one attempt of one, dead
    token = await log_in(gw, "operator")
    r = await gw.post(f"/admin/deliveries/{delivery_id}/requeue", headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert r.status_code == 200
    await settle(gw.gateway)  # the receiver still fails: dead again, after the fresh budget's one attempt
    detail = (await gw.get(f"/api/deliveries/{delivery_id}", headers=await bearer(gw, "operator"))).json()
    assert (detail["status"], detail["attempt_count"], detail["max_attempts"]) == ("dead", 2, 2)
    assert (detail["budget_start"], detail["requeues"]) == (1, 1) and detail["requeued_at"] is not None
    page = (await gw.get(f"/admin/deliveries/{delivery_id}")).text
    assert "2 of 2; 1 of 1 since it was requeued (requeued 1 time, last " in page
    listing = (await gw.get("/admin/deliveries")).text
    assert "2/2 · requeued 1×" in listing
