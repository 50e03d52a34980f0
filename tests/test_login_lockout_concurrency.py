"""The lockout holds against guesses sent all at once: counting and checking are one step.

Each test sends its requests truly at once (``asyncio.gather`` through the ASGI client) and
judges by outcomes: the audit log says which attempts had their password checked
(``login_failed`` with reason ``wrong_password``) and which were refused unchecked (``locked``).
"""

from __future__ import annotations

import asyncio

from tests.support.auth import PASSWORD, audit_rows, make_user

ATTEMPTS = 5
BURST = 15
AUTH = {"lockout_attempts": ATTEMPTS, "login_rate_per_minute": 1000}


async def _reasons(client) -> list[str]:  # type: ignore[no-untyped-def]
    return [row.detail.get("reason") for row in await audit_rows(client.gateway) if row.action == "login_failed"]


async def test_a_burst_of_wrong_passwords_checks_no_more_than_the_limit_and_locks(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth=AUTH) as client:
        await make_user(client.gateway, "dalila")

        async def guess(n: int) -> int:
            r = await client.post("/api/auth/token", json={"username": "dalila", "password": f"wrong-guess-{n}"})
            return r.status_code

        statuses = await asyncio.gather(*(guess(n) for n in range(BURST)))
        assert statuses == [401] * BURST
        reasons = await _reasons(client)
        assert reasons.count("wrong_password") == ATTEMPTS
        assert reasons.count("locked") == BURST - ATTEMPTS
        assert [row.action for row in await audit_rows(client.gateway)].count("lockout") == 1
        # The account is locked: the right password is refused too.
        right = await client.post("/api/auth/token", json={"username": "dalila", "password": PASSWORD})
        assert right.status_code == 401


async def test_the_right_password_in_a_burst_of_guesses_is_checked_only_within_the_limit(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth=AUTH) as client:
        await make_user(client.gateway, "eliya")

        async def attempt(password: str) -> int:
            r = await client.post("/api/auth/token", json={"username": "eliya", "password": password})
            return r.status_code

        passwords = [f"wrong-guess-{n}" for n in range(BURST)] + [PASSWORD]
        *wrong, right = await asyncio.gather(*(attempt(p) for p in passwords))
        assert wrong == [401] * BURST
        reasons = await _reasons(client)
        if right == 200:
            # It was checked among the first attempts, before the limit was reached; a success
            # clears the count, so a few more guesses may be checked after it, never a full burst.
            assert reasons.count("wrong_password") < 2 * ATTEMPTS
        else:
            assert right == 401
            assert reasons.count("wrong_password") == ATTEMPTS


async def test_attempts_cut_off_in_flight_lock_the_account_for_a_while_not_for_ever(app_client) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from core.storage.models import users

    async with app_client(auth=AUTH) as client:
        await make_user(client.gateway, "faraji")
        # As a process killed during five checks leaves it: every attempt counted, none given back, no lock.
        async with client.gateway.db.transaction() as conn:
            await conn.execute(sa.update(users).where(users.c.username == "faraji").values(failed_logins=ATTEMPTS))
        refused = await client.post("/api/auth/token", json={"username": "faraji", "password": PASSWORD})
        assert refused.status_code == 401
        async with client.gateway.db.transaction() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.username == "faraji"))).one()
        # Locked like any account that reached the limit: the lock ends, and the count with it.
        assert row.locked_until is not None and row.failed_logins == 0
