"""Every form of the console answers a redirect (post/redirect/get): reloading the page it lands on repeats nothing.

A one-time secret (a new key, a temporary password) is shown once by that page, carried by the
session's flash cookie, never by the URL.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from core.auth.users import create_user, find_user
from core.storage.models import api_keys, audit_log
from core.testing import GatewayClient
from tests.console.conftest import PASSWORD, log_in

SECRET = re.compile(r'<code id="secret">([^<]+)</code>')


async def key_count(gw: GatewayClient) -> int:
    async with gw.gateway.db.transaction() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(api_keys))).scalar_one())


async def test_creating_a_key_redirects_and_the_page_shows_its_secret_once(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    r = await gw.post("/admin/keys", data={"csrf_token": token, "name": "crm-sync", "scopes": "deliveries:read"})
    assert r.status_code == 303 and r.headers["location"] == "/admin/keys"
    page = await gw.get(r.headers["location"])
    found = SECRET.search(page.text)
    assert found and found.group(1) not in r.headers["location"]
    reload = await gw.get("/admin/keys")
    assert SECRET.search(reload.text) is None and found.group(1) not in reload.text
    assert await key_count(gw) == 1


async def test_the_new_keys_secret_is_not_shown_to_another_session(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    r = await gw.post("/admin/keys", data={"csrf_token": token, "name": "crm-sync", "scopes": "deliveries:read"})
    flash = gw.cookies.get("sb_admin_flash", path="/admin")
    assert flash
    await log_in(gw, "admin")  # a new session, handed the first one's flash cookie
    gw.cookies.set("sb_admin_flash", flash, path="/admin")
    page = await gw.get(r.headers["location"])
    assert page.status_code == 200 and SECRET.search(page.text) is None


async def test_resetting_a_password_redirects_and_a_reload_issues_no_new_one(gw: GatewayClient) -> None:
    viewer = await find_user(gw.gateway, "viewer")
    assert viewer is not None
    token = await log_in(gw, "admin")
    r = await gw.post(f"/admin/users/{viewer.id}", data={"csrf_token": token, "action": "reset"})
    assert r.status_code == 303 and r.headers["location"] == "/admin/users"
    first = SECRET.search((await gw.get("/admin/users")).text)
    assert first
    hash_after_reset = (await find_user(gw.gateway, "viewer")).password_hash  # type: ignore[union-attr]
    reload = await gw.get("/admin/users")
    assert SECRET.search(reload.text) is None
    assert (await find_user(gw.gateway, "viewer")).password_hash == hash_after_reset  # type: ignore[union-attr]


async def test_approving_a_signup_redirects_and_writes_one_audit_row(gw: GatewayClient) -> None:
    await create_user(gw.gateway, "newcomer", PASSWORD, "viewer", status="pending")
    newcomer = await find_user(gw.gateway, "newcomer")
    assert newcomer is not None
    token = await log_in(gw, "admin")
    r = await gw.post(f"/admin/users/{newcomer.id}", data={"csrf_token": token, "action": "approve"})
    assert r.status_code == 303
    page = await gw.get(r.headers["location"])
    assert 'id="notice"' in page.text and "newcomer" in page.text
    await gw.get("/admin/users")
    await gw.gateway.audit.flush()
    async with gw.gateway.db.transaction() as conn:
        rows = (await conn.execute(sa.select(audit_log.c.action).where(audit_log.c.kind == "auth"))).scalars().all()
    assert len([a for a in rows if "approve" in a]) == 1


async def test_creating_a_user_redirects(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    data = {"csrf_token": token, "username": "bob", "password": "a much longer password 7", "role": "viewer"}
    r = await gw.post("/admin/users", data=data)
    assert r.status_code == 303 and r.headers["location"] == "/admin/users"
    assert "bob created" in (await gw.get("/admin/users")).text
