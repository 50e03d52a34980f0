"""An ended session stays ended for the whole life of its tokens, even after the retention job.

The refresh-token rows are the record that a session ended; the ``refresh_token_retention`` job
deletes expired ones. With ``refresh_token_ttl`` shorter than the life of a token issued for the
session (an access token here, the console's cookie in ``tests/console``), the job must not delete
that record while such a token is still valid. Each test runs the job as of a moment after the
refresh token's own expiry and before the access token's (``now=``), so nothing waits.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.auth.sessions import purge_expired_refresh_tokens
from tests.support.auth import PASSWORD, bearer, login, make_user

SHORT_REFRESH = {"refresh_token_ttl": 60, "access_token_ttl": 900}


async def _retention_after_refresh_expiry(client) -> None:  # type: ignore[no-untyped-def]
    await purge_expired_refresh_tokens(client.gateway, now=datetime.now(UTC) + timedelta(seconds=120))


async def test_a_logged_out_access_token_stays_refused_after_retention(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth=SHORT_REFRESH) as client:
        await make_user(client.gateway, "asha")
        tokens = await login(client, "asha")
        assert (await client.post("/api/auth/logout", headers=bearer(tokens))).status_code == 204
        await _retention_after_refresh_expiry(client)
        assert (await client.get("/api/auth/me", headers=bearer(tokens))).status_code == 401


async def test_logout_everywhere_holds_after_retention(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth=SHORT_REFRESH) as client:
        await make_user(client.gateway, "baraka")
        laptop, phone = await login(client, "baraka"), await login(client, "baraka")
        r = await client.post("/api/auth/logout", headers=bearer(laptop), json={"everywhere": True})
        assert r.status_code == 204
        await _retention_after_refresh_expiry(client)
        assert (await client.get("/api/auth/me", headers=bearer(phone))).status_code == 401


async def test_a_password_change_ends_the_other_sessions_for_good(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth=SHORT_REFRESH) as client:
        await make_user(client.gateway, "chausiku")
        laptop, phone = await login(client, "chausiku"), await login(client, "chausiku")
        r = await client.post(
            "/api/auth/password",
            headers=bearer(laptop),
            json={"current_password": PASSWORD, "new_password": "another long passphrase 7"},
        )
        assert r.status_code == 200, r.text
        await _retention_after_refresh_expiry(client)
        assert (await client.get("/api/auth/me", headers=bearer(phone))).status_code == 401
        assert (await client.get("/api/auth/me", headers=bearer(laptop))).status_code == 200
