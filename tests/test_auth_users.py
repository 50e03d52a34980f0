"""Users: the admin API, password changes and resets, self-signup with approval."""

from __future__ import annotations

from core.testing import user_headers
from tests.support.auth import NEW_PASSWORD, PASSWORD, audit_rows, bearer, login, make_user


async def test_admin_creates_a_user_who_must_change_the_password_at_first_login(client) -> None:  # type: ignore[no-untyped-def]
    admin = await user_headers(client.gateway, "admin")
    r = await client.post(
        "/api/users",
        headers=admin,
        json={"username": "Asha", "password": PASSWORD, "role": "operator", "email": "asha@example.org"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["username"] == "asha" and body["role"] == "operator" and body["must_change_password"] is True
    assert "password" not in body and "password_hash" not in body
    assert (await login(client, "asha"))["must_change_password"] is True


async def test_creating_a_user_with_a_taken_name_is_a_409(client) -> None:  # type: ignore[no-untyped-def]
    admin = await user_headers(client.gateway, "admin")
    await make_user(client.gateway, "bahati")
    r = await client.post(
        "/api/users", headers=admin, json={"username": "BAHATI", "password": PASSWORD, "role": "viewer"}
    )
    assert r.status_code == 409
    assert r.json()["errors"] == [{"field": "username", "message": "taken"}]


async def test_a_short_password_is_refused_with_the_rule(client) -> None:  # type: ignore[no-untyped-def]
    admin = await user_headers(client.gateway, "admin")
    r = await client.post(
        "/api/users", headers=admin, json={"username": "cheta", "password": "Sh0rt!", "role": "viewer"}
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "password", "message": "must be at least 10 characters long"}]


async def test_a_common_password_is_refused_even_dressed_up(client) -> None:  # type: ignore[no-untyped-def]
    admin = await user_headers(client.gateway, "admin")
    for password in ("password123456", "Sunshine2024!", "P@ssw0rd1234", "qwertyuiop"):
        r = await client.post(
            "/api/users", headers=admin, json={"username": "dudu", "password": password, "role": "viewer"}
        )
        assert r.status_code == 422, password


async def test_a_password_containing_the_username_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    admin = await user_headers(client.gateway, "admin")
    r = await client.post(
        "/api/users", headers=admin, json={"username": "ezekiel", "password": "Ezekiel-the-great-77", "role": "viewer"}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["message"] == "must not contain the username"


async def test_an_invalid_username_or_role_is_a_422_and_creates_nothing(client) -> None:  # type: ignore[no-untyped-def]
    admin = await user_headers(client.gateway, "admin")
    bad_name = await client.post(
        "/api/users", headers=admin, json={"username": "a b", "password": PASSWORD, "role": "viewer"}
    )
    bad_role = await client.post(
        "/api/users", headers=admin, json={"username": "fanaka", "password": PASSWORD, "role": "root"}
    )
    assert bad_name.status_code == 422 and bad_role.status_code == 422
    listed = (await client.get("/api/users", headers=admin, params={"search": "fanaka"})).json()
    assert listed["items"] == []


async def test_list_filters_by_role_active_and_search(client) -> None:  # type: ignore[no-untyped-def]
    admin = await user_headers(client.gateway, "admin", username="root-admin")
    await make_user(client.gateway, "gati", role="operator", full_name="Gati Mwangi")
    await make_user(client.gateway, "halima", role="operator", email="halima@ministry.example")
    await make_user(client.gateway, "idris", role="viewer", status="inactive")

    async def names(**params: str) -> list[str]:
        r = await client.get("/api/users", headers=admin, params=params)
        assert r.status_code == 200, r.text
        return [u["username"] for u in r.json()["items"]]

    assert await names(role="operator") == ["gati", "halima"]
    assert await names(active="false") == ["idris"]
    assert await names(search="MWANGI") == ["gati"]
    assert await names(search="ministry") == ["halima"]
    assert await names(role="operator", search="gat") == ["gati"]


async def test_search_treats_wildcards_as_text(client) -> None:  # type: ignore[no-untyped-def]
    admin = await user_headers(client.gateway, "admin")
    await make_user(client.gateway, "jamila")
    assert (await client.get("/api/users", headers=admin, params={"search": "%"})).json()["items"] == []


async def test_list_pages_by_cursor_until_next_is_null(client) -> None:  # type: ignore[no-untyped-def]
    admin = await user_headers(client.gateway, "admin", username="aaa-admin")
    for n in range(5):
        await make_user(client.gateway, f"page-user-{n}")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/users", headers=admin, params=params)).json()
        assert len(page["items"]) <= 2
        seen += [u["username"] for u in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ["aaa-admin"] + [f"page-user-{n}" for n in range(5)]


async def test_a_bad_cursor_or_limit_or_unknown_filter_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    admin = await user_headers(client.gateway, "admin")
    assert (await client.get("/api/users", headers=admin, params={"cursor": "!!"})).status_code == 400
    assert (await client.get("/api/users", headers=admin, params={"limit": "0"})).status_code == 422
    assert (await client.get("/api/users", headers=admin, params={"colour": "blue"})).status_code == 422


async def test_get_user_by_id_and_404_for_unknown_or_malformed_ids(client) -> None:  # type: ignore[no-untyped-def]
    admin = await user_headers(client.gateway, "admin")
    user = await make_user(client.gateway, "kassim")
    assert (await client.get(f"/api/users/{user.id}", headers=admin)).json()["username"] == "kassim"
    assert (await client.get("/api/users/0190c8e2-0000-7000-8000-000000000000", headers=admin)).status_code == 404
    assert (await client.get("/api/users/not-a-uuid", headers=admin)).status_code == 404


async def test_role_change_applies_to_the_users_next_request_and_is_audited(client) -> None:  # type: ignore[no-untyped-def]
    admin = await user_headers(client.gateway, "admin", username="boss")
    user = await make_user(client.gateway, "latifa", role="operator")
    tokens = await login(client, "latifa")
    r = await client.put(f"/api/users/{user.id}", headers=admin, json={"role": "admin"})
    assert r.status_code == 200 and r.json()["role"] == "admin"
    # The token still says "operator"; the database decides.
    assert (await client.get("/api/users", headers=bearer(tokens))).status_code == 200
    [change] = [row for row in await audit_rows(client.gateway) if row.action == "role_changed"]
    assert change.actor == "user:boss" and change.detail == {"user": "latifa", "previous": "operator", "role": "admin"}


async def test_delete_deactivates_and_the_users_tokens_stop_at_once(client) -> None:  # type: ignore[no-untyped-def]
    admin = await user_headers(client.gateway, "admin")
    user = await make_user(client.gateway, "maulidi")
    tokens = await login(client, "maulidi")
    r = await client.delete(f"/api/users/{user.id}", headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False
    assert (await client.get("/api/auth/me", headers=bearer(tokens))).status_code == 401
    assert (await client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code == 401
    r = await client.post("/api/auth/token", json={"username": "maulidi", "password": PASSWORD})
    assert r.status_code == 403


async def test_a_deactivated_user_can_be_reactivated(client) -> None:  # type: ignore[no-untyped-def]
    admin = await user_headers(client.gateway, "admin")
    user = await make_user(client.gateway, "nuru")
    await client.delete(f"/api/users/{user.id}", headers=admin)
    assert (await client.put(f"/api/users/{user.id}", headers=admin, json={"active": True})).json()["active"] is True
    assert await login(client, "nuru")


async def test_the_last_active_admin_cannot_be_demoted_or_deactivated(client) -> None:  # type: ignore[no-untyped-def]
    only = await make_user(client.gateway, "only-admin", role="admin")
    admin = bearer(await login(client, "only-admin"))
    assert (await client.put(f"/api/users/{only.id}", headers=admin, json={"role": "viewer"})).status_code == 409
    assert (await client.delete(f"/api/users/{only.id}", headers=admin)).status_code == 409
    await make_user(client.gateway, "second-admin", role="admin")
    assert (await client.put(f"/api/users/{only.id}", headers=admin, json={"role": "viewer"})).status_code == 200


async def test_update_with_an_unknown_field_changes_nothing(client) -> None:  # type: ignore[no-untyped-def]
    admin = await user_headers(client.gateway, "admin")
    user = await make_user(client.gateway, "omondi", role="viewer")
    r = await client.put(f"/api/users/{user.id}", headers=admin, json={"role": "admin", "is_superuser": True})
    assert r.status_code == 422
    assert (await client.get(f"/api/users/{user.id}", headers=admin)).json()["role"] == "viewer"


# --- passwords: own change, admin reset ---------------------------------------------------------


async def test_a_user_changes_their_own_password_with_the_current_one(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "paulo")
    tokens = await login(client, "paulo")
    r = await client.post(
        "/api/auth/password",
        headers=bearer(tokens),
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert r.status_code == 200, r.text
    assert await login(client, "paulo", NEW_PASSWORD)
    assert (await client.post("/api/auth/token", json={"username": "paulo", "password": PASSWORD})).status_code == 401


async def test_changing_the_password_needs_the_right_current_one(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "queen")
    tokens = await login(client, "queen")
    r = await client.post(
        "/api/auth/password",
        headers=bearer(tokens),
        json={"current_password": "not-my-password-1", "new_password": NEW_PASSWORD},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "current_password"
    assert await login(client, "queen", PASSWORD)


async def test_guessing_the_current_password_counts_towards_lockout(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"lockout_attempts": 2}) as client:
        await make_user(client.gateway, "rashidi")
        tokens = await login(client, "rashidi")
        for _ in range(2):
            await client.post(
                "/api/auth/password",
                headers=bearer(tokens),
                json={"current_password": "guess-guess-guess", "new_password": NEW_PASSWORD},
            )
        r = await client.post(
            "/api/auth/password",
            headers=bearer(tokens),
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["message"] == "too many failed attempts: try again later"


async def test_changing_the_password_ends_the_users_other_sessions_but_not_this_one(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "sefu")
    here, elsewhere = await login(client, "sefu"), await login(client, "sefu")
    await client.post(
        "/api/auth/password", headers=bearer(here), json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert (await client.get("/api/auth/me", headers=bearer(here))).status_code == 200
    assert (await client.get("/api/auth/me", headers=bearer(elsewhere))).status_code == 401


async def test_the_new_password_must_pass_the_policy_and_differ_from_the_old(client) -> None:  # type: ignore[no-untyped-def]
    await make_user(client.gateway, "tatu")
    tokens = await login(client, "tatu")
    for new in ("password1234", PASSWORD):
        r = await client.post(
            "/api/auth/password", headers=bearer(tokens), json={"current_password": PASSWORD, "new_password": new}
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "new_password"


async def test_admin_reset_forces_a_change_and_only_the_change_routes_stay_open(client) -> None:  # type: ignore[no-untyped-def]
    admin = await user_headers(client.gateway, "admin")
    user = await make_user(client.gateway, "ummi", role="admin")
    old_session = await login(client, "ummi")
    r = await client.put(f"/api/users/{user.id}", headers=admin, json={"password": "Temporary-pass-8812"})
    assert r.status_code == 200 and r.json()["must_change_password"] is True
    assert (await client.get("/api/auth/me", headers=bearer(old_session))).status_code == 401

    tokens = await login(client, "ummi", "Temporary-pass-8812")
    assert tokens["must_change_password"] is True
    headers = bearer(tokens)
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    blocked = await client.get("/api/users", headers=headers)
    assert blocked.status_code == 403 and "password must be changed" in blocked.json()["error"]

    r = await client.post(
        "/api/auth/password",
        headers=headers,
        json={"current_password": "Temporary-pass-8812", "new_password": NEW_PASSWORD},
    )
    assert r.status_code == 200 and r.json()["must_change_password"] is False
    # The same token now reaches what the role allows.
    assert (await client.get("/api/users", headers=headers)).status_code == 200
    assert (await client.get("/api/auth/me", headers=headers)).json()["must_change_password"] is False


async def test_admin_reset_lifts_a_lockout_and_is_audited(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"lockout_attempts": 1}) as client:
        admin = await user_headers(client.gateway, "admin", username="helper")
        user = await make_user(client.gateway, "vuai")
        await client.post("/api/auth/token", json={"username": "vuai", "password": "wrong-wrong-wrong"})
        assert (await client.get(f"/api/users/{user.id}", headers=admin)).json()["locked_until"]
        await client.put(f"/api/users/{user.id}", headers=admin, json={"password": NEW_PASSWORD})
        assert await login(client, "vuai", NEW_PASSWORD)
        [reset] = [r for r in await audit_rows(client.gateway) if r.action == "password_reset"]
        assert reset.actor == "user:helper" and reset.detail == {"user": "vuai"}


async def test_admin_can_lift_a_lockout_without_a_reset(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"lockout_attempts": 1}) as client:
        admin = await user_headers(client.gateway, "admin")
        user = await make_user(client.gateway, "waridi")
        await client.post("/api/auth/token", json={"username": "waridi", "password": "wrong-wrong-wrong"})
        r = await client.put(f"/api/users/{user.id}", headers=admin, json={"unlock": True})
        assert r.json()["locked_until"] is None
        assert await login(client, "waridi")


# --- self-signup ---------------------------------------------------------------------------------


async def test_signup_is_off_by_default(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/auth/signup", json={"username": "xavier", "password": PASSWORD})
    assert r.status_code == 404


async def test_signup_creates_a_pending_user_who_cannot_log_in_until_approved(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"allow_signup": True}) as client:
        r = await client.post("/api/auth/signup", json={"username": "yohana", "password": PASSWORD, "email": "y@x.org"})
        assert r.status_code == 202 and r.json()["status"] == "pending"
        refused = await client.post("/api/auth/token", json={"username": "yohana", "password": PASSWORD})
        assert refused.status_code == 403 and refused.json()["error"] == "this account is awaiting approval"

        admin = await user_headers(client.gateway, "admin")
        pending = (await client.get("/api/users", headers=admin, params={"status": "pending"})).json()["items"]
        assert [u["username"] for u in pending] == ["yohana"] and pending[0]["role"] == "viewer"
        r = await client.post(f"/api/users/{pending[0]['id']}/approve", headers=admin, json={"role": "operator"})
        assert r.status_code == 200 and r.json()["status"] == "active" and r.json()["role"] == "operator"
        assert await login(client, "yohana")


async def test_a_rejected_signup_cannot_log_in_and_cannot_be_decided_twice(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"allow_signup": True}) as client:
        assert (await client.post("/api/auth/signup", json={"username": "zuhura", "password": PASSWORD})).status_code == 202
        admin = await user_headers(client.gateway, "admin")
        pending = (await client.get("/api/users", headers=admin, params={"status": "pending"})).json()["items"]
        user_id = pending[0]["id"]
        assert (await client.post(f"/api/users/{user_id}/reject", headers=admin)).json()["status"] == "rejected"
        assert (await client.post(f"/api/users/{user_id}/approve", headers=admin)).status_code == 409
        r = await client.post("/api/auth/token", json={"username": "zuhura", "password": PASSWORD})
        assert r.status_code == 403
        actions = [row.action for row in await audit_rows(client.gateway)]
        assert "signup" in actions and "user_rejected" in actions


async def test_signup_cannot_choose_a_role(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"allow_signup": True}) as client:
        r = await client.post("/api/auth/signup", json={"username": "amani", "password": PASSWORD, "role": "admin"})
        assert r.status_code == 422


async def test_signup_answers_a_taken_name_as_a_new_one_and_changes_nothing(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"allow_signup": True}) as client:
        await make_user(client.gateway, "abdul")
        taken = await client.post("/api/auth/signup", json={"username": "abdul", "password": PASSWORD})
        new = await client.post("/api/auth/signup", json={"username": "baraka", "password": PASSWORD})
        assert (taken.status_code, new.status_code) == (202, 202)
        assert taken.json() == {"username": "abdul", "status": "pending"}
        assert new.json() == {"username": "baraka", "status": "pending"}
        assert taken.headers.keys() - {"x-request-id", "content-length"} == new.headers.keys() - {
            "x-request-id",
            "content-length",
        }
        # The existing account is untouched: still active, same password.
        assert await login(client, "abdul")
