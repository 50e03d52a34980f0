"""The console never honours ``Authorization: Basic``: a browser replays it by itself once it has it.

Only a request with the API's bearer token may skip the session's CSRF token on a console POST.
"""

from __future__ import annotations

import base64

import sqlalchemy as sa

from core.auth.users import create_user
from core.storage.models import api_keys
from core.testing import GatewayClient
from tests.console.conftest import PASSWORD, bearer, log_in

KEY_FORM = {"name": "forged", "scopes": "messages:read"}


def admin_basic() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()}


async def _keys(gw: GatewayClient) -> list[str]:
    async with gw.gateway.db.transaction() as conn:
        return list((await conn.execute(sa.select(api_keys.c.name))).scalars())


async def test_a_console_post_with_basic_credentials_and_no_csrf_token_is_refused(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as gw:
        await create_user(gw.gateway, "admin", PASSWORD, "admin")
        r = await gw.post("/admin/keys", data=KEY_FORM, headers=admin_basic())
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")
        assert (await gw.get("/admin/keys", headers=admin_basic())).status_code == 303
        assert await _keys(gw) == []


async def test_basic_credentials_beside_a_session_cookie_do_not_excuse_the_csrf_token(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as gw:
        await create_user(gw.gateway, "admin", PASSWORD, "admin")
        await log_in(gw, "admin")
        r = await gw.post("/admin/keys", data=KEY_FORM, headers=admin_basic())
        assert r.status_code == 403
        assert await _keys(gw) == []


async def test_a_console_post_with_the_apis_bearer_token_needs_no_csrf_token(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as gw:
        await create_user(gw.gateway, "admin", PASSWORD, "admin")
        r = await gw.post("/admin/keys", data=KEY_FORM, headers=await bearer(gw, "admin"))
        # Processed: post/redirect/get to the keys page (not to the login page).
        assert r.status_code == 303 and "/login" not in r.headers["location"]
        assert await _keys(gw) == ["forged"]
