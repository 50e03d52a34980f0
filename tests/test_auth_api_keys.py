"""API keys: created by an admin and shown once, scoped, bound to a platform, listed, revoked, rotated."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import (
    Adapter,
    Forbidden,
    Principal,
    StandardMessage,
    Unprocessable,
    create_api_key,
    hookimpl,
    issue_user_key,
    requires,
    user_keys,
)
from core.auth.credentials import hash_secret
from core.auth.users import find_user, update_user
from core.storage.db import make_engine
from core.storage.models import api_keys
from core.testing import user_headers
from tests.support.auth import audit_rows


@requires("operator", scopes=["readings:write"])
async def post_reading(request: Request) -> Response:
    """A device posts a reading."""
    return JSONResponse({"from": request.state.principal.name}, status_code=201)


class MeterAdapter(Adapter):
    """Webhooks from meters, authenticated by the default rule: a key with webhooks:meter."""

    name = "meter"

    async def parse(self, request: Request, body: bytes) -> list[StandardMessage]:
        item = json.loads(body)
        return [StandardMessage(platform="meter", external_id=item["id"], kind="data", extra=item)]


class DevicesPlugin:
    @hookimpl
    def switchboard_routes(self) -> list[Route]:
        return [Route("/readings", post_reading, methods=["POST"])]

    @hookimpl
    def switchboard_adapters(self) -> list[Adapter]:
        return [MeterAdapter()]


def devices(app_client):  # type: ignore[no-untyped-def]
    return app_client(extra_plugins=[("meters", DevicesPlugin())])


async def _create(client, admin: dict[str, str], **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = await client.post(
        "/api/api-keys", headers=admin, json={"name": "meter-17", "scopes": ["readings:write"]} | body
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_a_device_key_with_the_right_scope_reaches_its_route(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        created = await _create(client, await user_headers(client.gateway, "admin"))
        r = await client.post("/plugins/meters/readings", headers={"X-API-Key": created["key"]})
        assert r.status_code == 201 and r.json() == {"from": "meter-17"}


async def test_a_key_is_accepted_as_a_bearer_token_too(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        created = await _create(client, await user_headers(client.gateway, "admin"))
        r = await client.post("/plugins/meters/readings", headers={"Authorization": f"Bearer {created['key']}"})
        assert r.status_code == 201


async def test_a_key_without_the_scope_gets_403(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        created = await _create(client, await user_headers(client.gateway, "admin"), scopes=["messages:read"])
        r = await client.post("/plugins/meters/readings", headers={"X-API-Key": created["key"]})
        assert r.status_code == 403 and "readings:write" in r.json()["error"]


async def test_a_key_never_reaches_a_route_that_declares_no_scope(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        created = await _create(client, await user_headers(client.gateway, "admin"), scopes=["*"])
        assert (await client.get("/api/users", headers={"X-API-Key": created["key"]})).status_code == 403


async def test_a_key_bound_to_a_platform_may_post_its_webhooks(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        admin = await user_headers(client.gateway, "admin")
        bound = await _create(client, admin, name="meter-gw", scopes=["readings:write"], platform="meter")
        other = await _create(client, admin, name="other", scopes=["readings:write"])
        body = json.dumps({"id": "r-1", "kwh": 3}).encode()
        ok = await client.post("/webhooks/meter", content=body, headers={"X-API-Key": bound["key"]})
        assert ok.status_code == 200, ok.text
        refused = await client.post("/webhooks/meter", content=body, headers={"X-API-Key": other["key"]})
        assert refused.status_code in (401, 403)


async def test_no_user_role_may_post_a_platforms_webhooks_only_a_key_holding_its_scope(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        body = json.dumps({"id": "r-2", "kwh": 1}).encode()
        for role in ("viewer", "operator", "admin"):
            r = await client.post("/webhooks/meter", content=body, headers=await user_headers(client.gateway, role))
            assert r.status_code == 403, (role, r.text)
        scoped = await _create(client, await user_headers(client.gateway, "admin"), scopes=["webhooks:meter"])
        ok = await client.post("/webhooks/meter", content=body, headers={"Authorization": f"Bearer {scoped['key']}"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["stored"] == 1


async def test_the_key_is_shown_once_and_only_its_hash_is_stored(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        admin = await user_headers(client.gateway, "admin")
        created = await _create(client, admin)
        assert created["key"].startswith(created["prefix"] + "_")
        listed = (await client.get("/api/api-keys", headers=admin)).json()["items"]
        shown = (await client.get(f"/api/api-keys/{created['id']}", headers=admin)).json()
        for view in (*listed, shown):
            assert "key" not in view and "key_hash" not in view
        async with client.gateway.db.transaction() as conn:
            stored = (await conn.execute(sa.select(api_keys))).one()
        assert stored.key_hash == hash_secret(created["key"])
        assert created["key"] not in json.dumps(dict(stored._mapping), default=str)


async def test_key_list_shows_prefix_scopes_last_use_and_usage_count(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        admin = await user_headers(client.gateway, "admin")
        created = await _create(client, admin)
        for _ in range(3):
            await client.post("/plugins/meters/readings", headers={"X-API-Key": created["key"]})
        [item] = (await client.get("/api/api-keys", headers=admin)).json()["items"]
        assert item["prefix"] == created["prefix"] and item["scopes"] == ["readings:write"]
        assert item["usage_count"] == 3 and item["last_used_at"] and item["state"] == "active"


async def test_key_usage_is_written_in_batches_not_per_request(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        created = await _create(client, await user_headers(client.gateway, "admin"))
        for _ in range(4):
            await client.post("/plugins/meters/readings", headers={"X-API-Key": created["key"]})

        async def stored() -> Any:
            async with client.gateway.db.transaction() as conn:
                return (await conn.execute(sa.select(api_keys.c.usage_count, api_keys.c.last_used_at))).one()

        assert (await stored()).usage_count == 0
        await client.gateway.auth.key_usage.flush()
        row = await stored()
        assert row.usage_count == 4 and row.last_used_at is not None


async def test_key_usage_still_unwritten_is_written_when_the_app_stops(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        created = await _create(client, await user_headers(client.gateway, "admin"))
        await client.post("/plugins/meters/readings", headers={"X-API-Key": created["key"]})
        settings = client.gateway.settings
    engine = make_engine(settings.database)
    try:
        async with engine.begin() as conn:
            assert (await conn.execute(sa.select(api_keys.c.usage_count))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_a_revoked_key_is_refused_on_its_next_request(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        admin = await user_headers(client.gateway, "admin")
        created = await _create(client, admin)
        headers = {"X-API-Key": created["key"]}
        assert (await client.post("/plugins/meters/readings", headers=headers)).status_code == 201
        r = await client.delete(f"/api/api-keys/{created['id']}", headers=admin)
        assert r.status_code == 200 and r.json()["state"] == "revoked"
        assert (await client.post("/plugins/meters/readings", headers=headers)).status_code == 401
        assert (await client.delete(f"/api/api-keys/{created['id']}", headers=admin)).status_code == 409


async def test_revoked_keys_are_listed_only_when_asked(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        admin = await user_headers(client.gateway, "admin")
        created = await _create(client, admin)
        await client.delete(f"/api/api-keys/{created['id']}", headers=admin)
        assert (await client.get("/api/api-keys", headers=admin)).json()["items"] == []
        everything = (await client.get("/api/api-keys", headers=admin, params={"include_revoked": "true"})).json()
        assert [k["id"] for k in everything["items"]] == [created["id"]]


async def test_an_expired_key_is_refused(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        created = await _create(client, await user_headers(client.gateway, "admin"))
        async with client.gateway.db.transaction() as conn:
            await conn.execute(sa.update(api_keys).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        assert (
            await client.post("/plugins/meters/readings", headers={"X-API-Key": created["key"]})
        ).status_code == 401


async def test_a_key_with_a_wrong_secret_but_a_real_prefix_is_refused(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        created = await _create(client, await user_headers(client.gateway, "admin"))
        forged = created["prefix"] + "_" + "A" * 43
        assert (await client.post("/plugins/meters/readings", headers={"X-API-Key": forged})).status_code == 401


async def test_invalid_key_requests_are_422_naming_each_field(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        admin = await user_headers(client.gateway, "admin")
        r = await client.post(
            "/api/api-keys",
            headers=admin,
            json={
                "name": "x",
                "scopes": ["Readings Write"],
                "platform": "fax",
                "expires_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
            },
        )
        assert r.status_code == 422
        assert [e["field"] for e in r.json()["errors"]] == ["scopes", "platform", "expires_at"]
        assert (await client.get("/api/api-keys", headers=admin)).json()["items"] == []


async def test_a_key_with_an_expiry_reports_it(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        expires = (datetime.now(UTC) + timedelta(days=90)).replace(microsecond=0)
        created = await _create(client, await user_headers(client.gateway, "admin"), expires_at=expires.isoformat())
        assert datetime.fromisoformat(created["expires_at"]) == expires


async def test_rotation_gives_a_new_key_and_the_old_one_works_through_the_grace_period(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        admin = await user_headers(client.gateway, "admin")
        old = await _create(client, admin)
        r = await client.post(f"/api/api-keys/{old['id']}/rotate", headers=admin, json={"grace_seconds": 3600})
        assert r.status_code == 201
        new = r.json()
        assert new["prefix"] != old["prefix"] and new["scopes"] == old["scopes"] and new["replaces"] == old["id"]
        for key in (old["key"], new["key"]):
            assert (await client.post("/plugins/meters/readings", headers={"X-API-Key": key})).status_code == 201


async def test_rotation_without_grace_stops_the_old_key_at_once(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        admin = await user_headers(client.gateway, "admin")
        old = await _create(client, admin)
        new = (await client.post(f"/api/api-keys/{old['id']}/rotate", headers=admin)).json()
        assert (await client.post("/plugins/meters/readings", headers={"X-API-Key": old["key"]})).status_code == 401
        assert (await client.post("/plugins/meters/readings", headers={"X-API-Key": new["key"]})).status_code == 201


async def test_key_creation_rotation_and_revocation_are_audited_without_the_key(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        admin = await user_headers(client.gateway, "admin", username="keymaster")
        created = await _create(client, admin)
        rotated = (await client.post(f"/api/api-keys/{created['id']}/rotate", headers=admin)).json()
        await client.delete(f"/api/api-keys/{rotated['id']}", headers=admin)
        rows = [r for r in await audit_rows(client.gateway) if r.action.startswith("api_key")]
        assert [(r.action, r.actor) for r in rows] == [
            ("api_key_created", "user:keymaster"),
            ("api_key_rotated", "user:keymaster"),
            ("api_key_revoked", "user:keymaster"),
        ]
        assert rows[0].detail["key_prefix"] == created["prefix"] and rows[0].client == "127.0.0.1"
        text = json.dumps([dict(r._mapping) for r in rows], default=str)
        assert created["key"] not in text and rotated["key"] not in text


async def test_usage_counted_by_several_processes_adds_up(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as one, devices(app_client) as two:
        created = await _create(one, await user_headers(one.gateway, "admin"))
        for client, times in ((one, 2), (two, 3)):
            for _ in range(times):
                await client.post("/plugins/meters/readings", headers={"X-API-Key": created["key"]})
        await one.gateway.auth.key_usage.flush()
        await two.gateway.auth.key_usage.flush()
        async with one.gateway.db.transaction() as conn:
            assert (await conn.execute(sa.select(api_keys.c.usage_count))).scalar_one() == 5


async def test_a_key_with_an_unknown_scope_is_422_naming_it(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        admin = await user_headers(client.gateway, "admin")
        r = await client.post(
            "/api/api-keys", headers=admin, json={"name": "typo", "scopes": ["readings:write", "reading:write"]}
        )
        assert r.status_code == 422, r.text
        [error] = r.json()["errors"]
        assert error["field"] == "scopes" and "'reading:write'" in error["message"]
        assert (await client.get("/api/api-keys", headers=admin)).json()["items"] == []


async def test_route_scopes_webhook_scopes_and_star_are_known(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        scopes = ["readings:write", "messages:read", "webhooks:meter", "*"]
        created = await _create(client, await user_headers(client.gateway, "admin"), scopes=scopes)
        assert created["scopes"] == sorted(scopes)


async def test_create_api_key_refuses_an_unknown_scope(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        with pytest.raises(Unprocessable) as refused:
            await create_api_key(client.gateway, "typo", ["webhooks:fax"])
        assert "'webhooks:fax'" in refused.value.errors[0]["message"]


async def test_a_key_issued_to_a_user_ends_with_their_account_and_follows_their_role(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        await user_headers(client.gateway, "operator", username="ops")
        user = await find_user(client.gateway, "ops")
        key = await issue_user_key(client.gateway, user.id, "their key", ["readings:write"], expires_at=None)
        headers = {"X-API-Key": key}
        assert (await client.post("/plugins/meters/readings", headers=headers)).status_code == 201
        await update_user(client.gateway, user.id, role="viewer")  # the route needs operator
        assert (await client.post("/plugins/meters/readings", headers=headers)).status_code == 403
        await update_user(client.gateway, user.id, role="operator")
        assert (await client.post("/plugins/meters/readings", headers=headers)).status_code == 201
        await update_user(client.gateway, user.id, status="inactive")
        assert (await client.post("/plugins/meters/readings", headers=headers)).status_code == 401


async def test_a_system_key_outlives_the_admin_who_created_it(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        admin = await user_headers(client.gateway, "admin", username="first-admin")
        await user_headers(client.gateway, "admin", username="second-admin")
        created = await _create(client, admin)
        first = await find_user(client.gateway, "first-admin")
        await update_user(client.gateway, first.id, status="inactive")
        r = await client.post("/plugins/meters/readings", headers={"X-API-Key": created["key"]})
        assert r.status_code == 201, r.text


async def test_a_key_caller_gets_a_user_key_no_wider_and_no_longer_lived_than_itself(app_client) -> None:  # type: ignore[no-untyped-def]
    async with devices(app_client) as client:
        await user_headers(client.gateway, "operator", username="ops")
        user = await find_user(client.gateway, "ops")
        soon = datetime.now(UTC) + timedelta(minutes=2)
        await issue_user_key(client.gateway, user.id, "first", ["readings:write"], expires_at=soon)
        [caller_row] = await user_keys(client.gateway, user.id, "first")
        caller = Principal(
            "api_key", str(caller_row.id), "first", role="operator", scopes=frozenset(["readings:write"]),
            extra={"owner": str(user.id), "expires_at": caller_row.expires_at},
        )  # fmt: skip
        later = datetime.now(UTC) + timedelta(days=365)
        await issue_user_key(
            client.gateway, user.id, "second", ["readings:write", "*"], expires_at=later, caller=caller
        )
        [issued] = await user_keys(client.gateway, user.id, "second")
        assert list(issued.scopes) == ["readings:write"] and issued.expires_at == caller_row.expires_at
        system = Principal("api_key", str(uuid.uuid4()), "system", scopes=frozenset(["*"]), extra={"owner": None})
        with pytest.raises(Forbidden):
            await issue_user_key(client.gateway, user.id, "third", ["readings:write"], expires_at=later, caller=system)
