"""``Authorization: Basic`` on dhis2gw's routes: accepted only where declared, verified at the cost
of an API key once it has been checked, and never counted as a login when it is right.

The logs viewer of dhis2gw's clients sends one Basic request per selected row, often at once.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from core.auth.users import insert_user, set_password, update_user
from tests.support.auth import audit_rows

P = "/api/v2"
COMPAT = {"compat": {"enabled": True}}
PASSWORD = "correct horse battery"
NEW_PASSWORD = "another long passphrase 9"


def basic_header(username: str = "clerk", password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


async def clerk(gateway: Any, role: str = "operator") -> Any:
    return await insert_user(gateway, "clerk", role, await gateway.auth.passwords.hash(PASSWORD))


async def test_basic_is_accepted_on_dhis2gw_routes_and_refused_on_the_core_api(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        await clerk(client.gateway, "admin")
        assert (await client.get(f"{P}/logs", headers=basic_header())).status_code == 200
        for path in ("/api/auth/me", "/api/users", "/api/deliveries"):
            r = await client.get(path, headers=basic_header())
            assert r.status_code == 401, (path, r.text)
            assert r.headers["www-authenticate"].startswith("Bearer")


async def test_thirty_right_basic_requests_in_a_row_are_all_answered(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        await clerk(client.gateway)
        limit = client.gateway.settings.auth.login_rate_per_minute
        statuses = [(await client.get(f"{P}/logs", headers=basic_header())).status_code for _ in range(limit + 10)]
        assert statuses == [200] * (limit + 10)


async def test_thirty_right_basic_requests_at_once_are_all_answered(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        await clerk(client.gateway)
        count = client.gateway.settings.auth.login_rate_per_minute + 10
        answers = await asyncio.gather(*(client.get(f"{P}/logs", headers=basic_header()) for _ in range(count)))
        assert [r.status_code for r in answers] == [200] * count


async def test_a_remembered_basic_credential_stops_at_a_password_change_in_another_process(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as one, dhis2_app(**COMPAT) as two:
        user_id = await clerk(one.gateway)
        assert (await one.get(f"{P}/logs", headers=basic_header())).status_code == 200
        await set_password(two.gateway, user_id, NEW_PASSWORD, must_change=False)
        assert (await one.get(f"{P}/logs", headers=basic_header())).status_code == 401
        assert (await one.get(f"{P}/logs", headers=basic_header(password=NEW_PASSWORD))).status_code == 200


async def test_a_remembered_basic_credential_stops_when_the_user_is_deactivated(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as one, dhis2_app(**COMPAT) as two:
        user_id = await clerk(one.gateway)
        assert (await one.get(f"{P}/logs", headers=basic_header())).status_code == 200
        await update_user(two.gateway, user_id, status="inactive")
        assert (await one.get(f"{P}/logs", headers=basic_header())).status_code == 401


async def test_a_burst_of_wrong_basic_passwords_checks_no_more_than_the_lockout_allows(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        await clerk(client.gateway)
        attempts = client.gateway.settings.auth.lockout_attempts
        guesses = [basic_header(password=f"guess-{n}") for n in range(15)]
        answers = await asyncio.gather(*(client.get(f"{P}/logs", headers=h) for h in guesses))
        assert [r.status_code for r in answers] == [401] * 15
        reasons = [row.detail.get("reason") for row in await audit_rows(client.gateway) if row.action == "login_failed"]
        assert reasons.count("wrong_password") == attempts
        assert (await client.get(f"{P}/logs", headers=basic_header())).status_code == 401
