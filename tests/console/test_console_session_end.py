"""The console's logout holds for the cookie's whole life, even after the refresh-token retention job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.auth.sessions import purge_expired_refresh_tokens
from core.auth.users import create_user
from tests.console.conftest import PASSWORD, log_in


async def test_a_logged_out_cookie_stays_refused_after_retention(app_client) -> None:  # type: ignore[no-untyped-def]
    # The refresh token (the session's record) would expire long before the cookie does.
    async with app_client(auth={"refresh_token_ttl": 60}, plugins={"admin": {"session_ttl": 3600}}) as gw:
        await create_user(gw.gateway, "viewer", PASSWORD, "viewer")
        csrf = await log_in(gw, "viewer")
        kept = dict(gw.cookies)
        assert (await gw.post("/admin/logout", data={"csrf_token": csrf})).status_code == 303
        # The job, as of a moment after the refresh token's expiry and within the cookie's life.
        await purge_expired_refresh_tokens(gw.gateway, now=datetime.now(UTC) + timedelta(seconds=600))
        gw.cookies.clear()
        gw.cookies.update(kept)
        r = await gw.get("/admin/")
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")
