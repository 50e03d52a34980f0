"""API keys in the console: an expiry day, rotation with a grace period (the new key shown once)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from core.auth.api_keys import create_key, get_key, list_keys
from core.testing import GatewayClient
from tests.console.conftest import log_in

SECRET = re.compile(r'<code id="secret">([^<]+)</code>')


async def test_a_key_expires_after_the_day_chosen(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    day = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    data = {"csrf_token": token, "name": "crm-sync", "scopes": "deliveries:read", "expires": day}
    r = await gw.post("/admin/keys", data=data)
    assert r.status_code == 303
    rows, _ = await list_keys(gw.gateway, include_revoked=True, limit=10)
    assert rows[0].expires_at.date().isoformat() == (datetime.now(UTC).date() + timedelta(days=31)).isoformat()
    page = await gw.get("/admin/keys")
    assert "Expires (UTC)" in page.text


async def test_an_expiry_in_the_past_is_refused_beside_it(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    day = (datetime.now(UTC).date() - timedelta(days=2)).isoformat()
    r = await gw.post("/admin/keys", data={"csrf_token": token, "name": "k", "scopes": "deliveries:read", "expires": day})
    assert r.status_code == 422 and 'id="error-expires"' in r.text and f'value="{day}"' in r.text


async def test_rotating_a_key_shows_the_new_one_once_and_the_old_stops_after_the_grace(gw: GatewayClient) -> None:
    old, _ = await create_key(gw.gateway, "crm-sync", ["deliveries:read"])
    token = await log_in(gw, "admin")
    r = await gw.post(f"/admin/keys/{old.id}/rotate", data={"csrf_token": token, "grace": "3600"})
    assert r.status_code == 303 and r.headers["location"] == "/admin/keys"
    page = await gw.get("/admin/keys")
    assert SECRET.search(page.text) and "rotated" in page.text
    assert SECRET.search((await gw.get("/admin/keys")).text) is None
    stops = (await get_key(gw.gateway, old.id)).expires_at
    assert stops is not None and timedelta(minutes=50) < stops - datetime.now(UTC) <= timedelta(hours=1)
    rows, _ = await list_keys(gw.gateway, include_revoked=True, limit=10)
    assert len(rows) == 2
