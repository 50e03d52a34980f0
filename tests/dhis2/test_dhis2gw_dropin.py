"""dhis2gw's real clients on /api/v2: token bounds, CORS for its logs viewer, user routes, paging edges.

Each request is one dhis2gw's own clients send (its logs viewer, provisioning scripts, its swagger).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core import issue_user_key
from core.auth.api_keys import get_key, insert_api_key
from core.auth.credentials import api_key_prefix
from core.auth.users import find_user, insert_user, update_user
from core.storage.models import api_keys

P = "/api/v2"
COMPAT = {"compat": {"enabled": True}}
VIEWER = "https://viewer.example.org"


async def basic(
    gateway: Any, username: str, role: str = "operator", password: str = "correct horse battery"
) -> dict[str, str]:
    await insert_user(gateway, username, role, await gateway.auth.passwords.hash(password))
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


async def key_row(gateway: Any, token: str) -> Any:
    """The stored row of an API key, found by its visible prefix."""
    async with gateway.db.transaction() as conn:
        row = (await conn.execute(sa.select(api_keys.c.id).where(api_keys.c.prefix == api_key_prefix(token)))).one()
    return await get_key(gateway, row.id)


# --- #22.4: getToken never widens, never outlives, belongs to the caller, ends with the user ---


async def test_a_system_key_cannot_get_a_token_for_the_admin_who_made_it(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        await basic(client.gateway, "boss", "admin")
        admin = await find_user(client.gateway, "boss")
        expires = datetime.now(UTC) + timedelta(minutes=2)
        _, key = await insert_api_key(
            client.gateway, "integration", ["dhis2:aggregate"], created_by=admin.id, expires_at=expires
        )
        r = await client.post(f"{P}/users/getToken", headers={"Authorization": f"Token {key}"})
        assert r.status_code == 403, r.text
        assert "belongs to a user" in r.json()["error"]


async def test_a_token_from_a_token_holds_no_more_scopes_and_no_later_expiry(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        await basic(client.gateway, "clerk")
        user = await find_user(client.gateway, "clerk")
        soon = datetime.now(UTC) + timedelta(minutes=2)
        narrow = await issue_user_key(client.gateway, user.id, "dhis2gw token", ["dhis2:aggregate"], expires_at=soon)
        r = await client.post(f"{P}/users/getToken", headers={"Authorization": f"Token {narrow}"})
        assert r.status_code == 201, r.text
        issued = await key_row(client.gateway, r.json()["token"])
        caller = await key_row(client.gateway, narrow)
        assert list(issued.scopes) == ["dhis2:aggregate"]
        assert issued.expires_at == caller.expires_at
        assert r.json()["expires"] == issued.expires_at.isoformat().replace("+00:00", "Z")
        assert issued.owner_id == user.id


async def test_a_token_stops_when_its_user_is_demoted_or_deactivated(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        headers = await basic(client.gateway, "clerk")
        token = (await client.post(f"{P}/users/getToken", headers=headers)).json()["token"]
        auth = {"Authorization": f"Token {token}"}
        purge = {"date": "2000-01-01T00:00:00Z"}
        assert (await client.delete(f"{P}/logs/purge", params=purge, headers=auth)).status_code == 200
        user = await find_user(client.gateway, "clerk")
        await update_user(client.gateway, user.id, role="viewer")
        assert (await client.delete(f"{P}/logs/purge", params=purge, headers=auth)).status_code == 403
        assert (await client.get(f"{P}/logs", headers=auth)).status_code == 200  # a viewer may still read
        await update_user(client.gateway, user.id, status="inactive")
        assert (await client.get(f"{P}/logs", headers=auth)).status_code == 401


async def test_tokens_live_token_ttl_days_by_default_365(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        headers = await basic(client.gateway, "clerk")
        token = (await client.post(f"{P}/users/getToken", headers=headers)).json()["token"]
        issued = await key_row(client.gateway, token)
        assert issued.expires_at - issued.created_at > timedelta(days=364)
    async with dhis2_app(compat={"enabled": True, "token_ttl_days": 7}) as client:
        headers = await basic(client.gateway, "clerk-two")
        token = (await client.post(f"{P}/users/getToken", headers=headers)).json()["token"]
        issued = await key_row(client.gateway, token)
        assert timedelta(days=6) < issued.expires_at - issued.created_at <= timedelta(days=7)


# --- #23.2: CORS, as its logs viewer served from another origin needs ---


async def test_the_logs_viewer_preflight_is_answered_204_with_methods_and_headers(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        preflight = {
            "Origin": VIEWER,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        }
        r = await client.options(f"{P}/logs", headers=preflight)
        assert r.status_code == 204, r.text
        assert r.headers["access-control-allow-origin"] == "*"
        assert "GET" in r.headers["access-control-allow-methods"].split(",")
        assert "DELETE" in r.headers["access-control-allow-methods"].split(",")
        assert "Authorization" in r.headers["access-control-allow-headers"].split(",")
        r = await client.options(f"{P}/logs/12", headers={**preflight, "Access-Control-Request-Method": "DELETE"})
        assert r.status_code == 204


async def test_every_dhis2gw_path_answers_a_preflight(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    paths = [
        "/aggregate", "/aggregate/reenqueue/batch", "/aggregate/reenqueue/t-1", "/logs", "/logs/purge", "/logs/1",
        "/mappings", "/mappings/import/csv", "/mappings/import/excel", "/mappings/export/excel",
        "/mappings/export/excel-template", "/user", "/users", "/users/u-1", "/users/getToken", "/users/refreshToken",
    ]  # fmt: skip
    async with dhis2_app(**COMPAT) as client:
        for path in [f"{P}{p}" for p in paths] + ["/mappings/export/excel-template"]:
            r = await client.options(path, headers={"Origin": VIEWER, "Access-Control-Request-Method": "POST"})
            assert r.status_code == 204 and r.headers["access-control-allow-origin"] == "*", path
        template = await client.get(f"{P}/mappings/export/excel-template", headers={"Origin": VIEWER})
        assert template.status_code == 200 and template.headers["access-control-allow-origin"] == "*"


async def test_the_viewers_calls_carry_the_grant_errors_of_the_guard_included(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        headers = await basic(client.gateway, "clerk")
        page = {"page": "1", "page_size": "10"}
        r = await client.get(f"{P}/logs", params=page, headers={**headers, "Origin": VIEWER})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
        r = await client.get(f"{P}/logs", params=page, headers={"Origin": VIEWER})
        assert r.status_code == 401 and r.headers["access-control-allow-origin"] == "*"


async def test_cors_origins_limits_who_is_granted(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(compat={"enabled": True, "cors_origins": [VIEWER]}) as client:
        ok = await client.options(f"{P}/logs", headers={"Origin": VIEWER, "Access-Control-Request-Method": "GET"})
        assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == VIEWER
        other = await client.options(
            f"{P}/logs", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        )
        assert other.status_code == 403 and "access-control-allow-origin" not in other.headers
    async with dhis2_app(compat={"enabled": True, "cors_origins": []}) as client:
        r = await client.options(f"{P}/logs", headers={"Origin": VIEWER, "Access-Control-Request-Method": "GET"})
        assert r.status_code == 405


# --- #23.4: user routes, admin only, dhis2gw's shapes ---


async def test_provisioning_creates_reads_lists_and_updates_a_user(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        admin = await basic(client.gateway, "boss", "admin")
        new = {"username": "jdoe", "password": "a long enough passphrase", "firstName": "John", "lastName": "Doe",
               "email": "john@example.com", "telephone": "+256700000001", "isActive": True, "isAdminUser": False}  # fmt: skip
        r = await client.post(f"{P}/user", json=new, headers=admin)
        assert r.status_code == 201, r.text
        assert r.json()["message"] == "User created successfully!"
        uid = r.json()["uid"]
        one = (await client.get(f"{P}/users/{uid}", headers=admin)).json()
        assert one["uid"] == uid and one["Username"] == "jdoe"
        assert (one["firstname"], one["lastname"], one["email"], one["is_active"]) == (
            "John",
            "Doe",
            "john@example.com",
            True,
        )
        assert "is_admin_user" not in one and "Password" not in one and "password" not in str(one).lower()
        listed = (await client.get(f"{P}/users", params={"username": "jdoe"}, headers=admin)).json()
        assert (listed["total"], listed["page"], listed["page_size"], listed["total_pages"]) == (1, 1, 20, 1)
        assert [u["uid"] for u in listed["items"]] == [uid]
        admins = (await client.get(f"{P}/users", params={"is_admin": "true"}, headers=admin)).json()
        assert [u["Username"] for u in admins["items"]] == ["boss"]
        change = {"uid": uid, "Username": "jdoe", "firstname": "Johnny", "lastname": "Doe", "email": "jd@example.com"}
        r = await client.put(f"{P}/users/{uid}", json=change, headers=admin)
        assert r.status_code == 200 and r.json() == {"message": "User updated successfully"}
        one = (await client.get(f"{P}/users/{uid}", headers=admin)).json()
        assert (one["firstname"], one["email"]) == ("Johnny", "jd@example.com")
        # The new user logs in with the password given (dhis2gw hashed an empty one).
        login = {"Authorization": "Basic " + base64.b64encode(b"jdoe:a long enough passphrase").decode()}
        assert (await client.get(f"{P}/logs", headers=login)).status_code == 200


async def test_user_routes_refuse_bad_input_and_unknown_users_in_dhis2gw_shape(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        admin = await basic(client.gateway, "boss", "admin")
        assert (await client.post(f"{P}/user", content=b"{", headers=admin)).json() == {"error": "Invalid input"}
        r = await client.post(f"{P}/user", json={"username": "x"}, headers=admin)
        assert r.status_code == 400 and r.json() == {"error": "Invalid input"}
        taken = {"username": "boss", "password": "a long enough passphrase"}
        r = await client.post(f"{P}/user", json=taken, headers=admin)
        assert r.status_code == 409 and r.json()["error"] == "Failed to create user"
        missing = "0190d6c5-0000-7000-8000-000000000000"
        assert (await client.get(f"{P}/users/{missing}", headers=admin)).json() == {"error": "User not found"}
        assert (await client.get(f"{P}/users/not-a-uid", headers=admin)).status_code == 404
        r = await client.put(f"{P}/users/{missing}", json={"firstname": "A"}, headers=admin)
        assert r.status_code == 404
        deep = b'{"username": ' + b"[" * 5000 + b"]" * 5000 + b"}"
        assert (await client.post(f"{P}/user", content=deep, headers=admin)).json() == {"error": "Invalid input"}
        long = {"username": "longmail", "password": "a long enough passphrase", "email": "a" * 300 + "@example.org"}
        r = await client.post(f"{P}/user", json=long, headers=admin)
        assert r.status_code == 400 and r.json()["error"] == "Invalid input"
        none = (await client.get(f"{P}/users", params={"username": "nobody"}, headers=admin)).json()
        assert none["items"] is None and none["total"] == 0


async def test_user_routes_are_for_admins_only(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        operator = await basic(client.gateway, "clerk")
        assert (await client.get(f"{P}/users", headers=operator)).status_code == 403
        new = {"username": "sneaky", "password": "a long enough passphrase", "isAdminUser": True}
        assert (await client.post(f"{P}/user", json=new, headers=operator)).status_code == 403


# --- #23.6: the edges its clients hit ---


async def test_logs_paging_edges_follow_dhis2gw(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        headers = await basic(client.gateway, "clerk")
        r = (await client.get(f"{P}/logs", params={"page": "0", "page_size": "0"}, headers=headers)).json()
        assert (r["items"], r["page"], r["page_size"], r["total"]) == (None, 0, 20, 0)
        r = (await client.get(f"{P}/logs", headers=headers)).json()
        assert (r["page"], r["page_size"]) == (1, 10)


async def test_an_empty_batch_body_is_400_and_no_mappings_is_null(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(**COMPAT) as client:
        headers = await basic(client.gateway, "clerk")
        r = await client.post(f"{P}/aggregate/reenqueue/batch", content=b"", headers=headers)
        assert r.status_code == 400 and r.json() == {"error": "Invalid request body"}
        r = await client.get(f"{P}/mappings", headers=headers)
        assert r.status_code == 200 and r.json() is None
