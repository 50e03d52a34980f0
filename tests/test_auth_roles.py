"""Roles made of permissions: the built-in roles, [auth.roles.<name>], plugins' permissions, keys of such users.

Every (role, route) pair is in tests/test_security_matrix.py; these are the rules around it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import PermissionInfo, hookimpl, requires
from core.auth.roles import CORE_PERMISSIONS
from core.auth.users import find_user
from core.errors import PluginError
from core.operations.plugin_services import issue_user_key
from core.testing import user_headers
from tests.support.auth import PASSWORD, audit_rows, bearer, login, make_user

REPORTER = {"reporter": {"permissions": ["traffic.read", "reports.read", "reports.request"], "description": "Reports"}}


async def test_the_built_in_roles_are_made_of_the_permissions_each_names(client) -> None:  # type: ignore[no-untyped-def]
    roles = client.gateway.roles
    assert {"traffic.read", "content.read", "reports.read", "devices.read"} <= roles.of("viewer")
    assert "deliveries.repair" not in roles.of("viewer") and "deliveries.repair" in roles.of("operator")
    assert roles.of("viewer") < roles.of("operator") < roles.of("admin")
    assert roles.of("admin") == set(roles.permissions), "an admin holds every permission, the plugins' too"
    assert "reports.request" in roles.permissions and "dhis2.mappings.manage" in roles.permissions


async def test_a_configured_role_requests_reports_without_reading_messages_or_repairing(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"roles": REPORTER}) as client:
        headers = await user_headers(client.gateway, "reporter")
        assert (await client.get("/api/deliveries", headers=headers)).status_code == 200
        assert (await client.get("/plugins/reports/types", headers=headers)).status_code == 200
        requested = await client.post("/plugins/reports/reports", headers=headers, json={})
        assert requested.status_code == 422  # let through: the body is what is wrong
        denied = await client.get("/api/messages", headers=headers)
        assert denied.status_code == 403 and denied.json()["error"] == "this needs the content.read permission"
        assert (await client.post("/api/deliveries/purge", headers=headers, json={})).status_code == 403
        assert (await client.get("/plugins/devices/readings", headers=headers)).status_code == 403


async def test_a_redefined_viewer_no_longer_reads_personal_content(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"roles": {"viewer": {"permissions": ["traffic.read"]}}}) as client:
        headers = await user_headers(client.gateway, "viewer")
        assert (await client.get("/api/deliveries", headers=headers)).status_code == 200
        assert (await client.get("/api/messages", headers=headers)).status_code == 403
        assert (await client.get("/api/conversations", headers=headers)).status_code == 403


async def test_a_user_whose_role_is_no_longer_configured_keeps_only_what_any_signed_in_user_has(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"roles": REPORTER}) as client:
        await make_user(client.gateway, "rafiki", role="reporter")
    async with app_client() as client:  # the same database, without [auth.roles.reporter]
        headers = bearer(await login(client, "rafiki"))
        assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
        assert (await client.get("/api/deliveries", headers=headers)).status_code == 403


async def test_users_are_given_a_configured_role_and_an_unknown_one_is_a_422_naming_the_roles(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"roles": REPORTER}) as client:
        admin = await user_headers(client.gateway, "admin")
        user = await make_user(client.gateway, "zawadi")
        r = await client.put(f"/api/users/{user.id}", headers=admin, json={"role": "reporter"})
        assert r.status_code == 200 and r.json()["role"] == "reporter"
        r = await client.put(f"/api/users/{user.id}", headers=admin, json={"role": "root"})
        assert r.status_code == 422
        assert r.json()["errors"] == [{"field": "role", "message": "one of viewer, operator, admin, reporter"}]
        assert (await find_user(client.gateway, "zawadi")).role == "reporter"  # type: ignore[union-attr]


async def test_roles_and_permissions_are_listed_for_admins(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"roles": REPORTER}) as client:
        body = (await client.get("/api/roles", headers=await user_headers(client.gateway, "admin"))).json()
        names = [p["name"] for p in body["permissions"]]
        assert names[: len(CORE_PERMISSIONS)] == [p.name for p in CORE_PERMISSIONS]
        assert {"name": "reports.request", "description": body["permissions"][names.index("reports.request")]["description"], "role": "operator"} in body["permissions"]  # fmt: skip
        by_name = {r["name"]: r for r in body["roles"]}
        assert list(by_name) == ["viewer", "operator", "admin", "reporter"]
        assert by_name["reporter"] == {
            "name": "reporter",
            "builtin": False,
            "description": "Reports",
            "permissions": ["traffic.read", "reports.read", "reports.request"],
        }
        assert by_name["admin"]["permissions"] == names


async def test_a_key_of_a_user_reaches_only_what_the_users_role_holds(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"roles": REPORTER}) as client:
        await make_user(client.gateway, "tumaini", role="reporter")
        user = await find_user(client.gateway, "tumaini")
        later = datetime.now(UTC) + timedelta(days=1)
        key = await issue_user_key(client.gateway, user.id, "all", ["*"], expires_at=later)  # type: ignore[union-attr]
        headers = {"X-API-Key": key}
        assert (await client.get("/api/deliveries", headers=headers)).status_code == 200
        refused = await client.get("/api/messages", headers=headers)
        assert refused.status_code == 403 and "lacks the content.read permission" in refused.json()["error"]


class _Meters:
    """A third party's plugin: a permission of its own and a route that requires one."""

    def __init__(self, *permissions: PermissionInfo, needs: str = "meters.read") -> None:
        self.permissions = list(permissions)

        @requires(needs)
        async def readings(request: Request) -> Response:
            return JSONResponse({"ok": True})

        self.readings = readings

    @hookimpl
    def switchboard_permissions(self) -> list[PermissionInfo]:
        return self.permissions

    @hookimpl
    def switchboard_routes(self) -> list[Route]:
        return [Route("/readings", self.readings)]


def _plugin(*permissions: PermissionInfo, needs: str = "meters.read") -> _Meters:
    return _Meters(*permissions, needs=needs)


async def test_a_plugins_permission_is_held_by_the_built_in_roles_from_the_one_it_names(app_client) -> None:  # type: ignore[no-untyped-def]
    plugin = _plugin(PermissionInfo("meters.read", "Read the meters", "operator"))
    async with app_client(extra_plugins=[("meters", plugin)], auth={"roles": {"meter-reader": {"permissions": ["meters.read"]}}}) as client:  # fmt: skip
        for role, status in (("viewer", 403), ("operator", 200), ("admin", 200), ("meter-reader", 200)):
            r = await client.get("/plugins/meters/readings", headers=await user_headers(client.gateway, role))
            assert r.status_code == status, role


@pytest.mark.parametrize(
    ("permissions", "needs", "error"),
    [
        ((PermissionInfo("gauges.read", "Read"),), "gauges.read", "plugin meters: permission 'gauges.read' must start with 'meters.'"),
        ((PermissionInfo("meters.read", "Read"), PermissionInfo("meters.read", "Again")), "meters.read", "permission 'meters.read' is declared twice"),
        ((PermissionInfo("meters.read", "Read"),), "meters.raed", "route /plugins/meters/readings requires unknown permission 'meters.raed'; did you mean 'meters.read'?"),
    ],
)  # fmt: skip
async def test_a_plugins_bad_permission_stops_the_app_from_being_built(app_client, permissions, needs, error) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PluginError) as raised:
        async with app_client(extra_plugins=[("meters", _plugin(*permissions, needs=needs))]):
            pass
    assert error in str(raised.value)


def test_a_permission_is_named_with_dotted_words_and_a_built_in_role() -> None:
    with pytest.raises(ValueError, match="dotted lower-case words"):
        PermissionInfo("Meters Read", "Read")
    with pytest.raises(ValueError, match="role must be one of viewer, operator, admin"):
        PermissionInfo("meters.read", "Read", "root")


async def test_a_role_defined_over_the_api_applies_to_its_users_at_their_next_request(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        admin = await user_headers(client.gateway, "admin")
        r = await client.put("/api/roles/auditor", headers=admin, json={"permissions": ["audit.read"]})
        assert r.status_code == 200
        assert r.json() == {"name": "auditor", "builtin": False, "description": "", "permissions": ["audit.read"]}
        user = await make_user(client.gateway, "imani")
        assert (await client.put(f"/api/users/{user.id}", headers=admin, json={"role": "auditor"})).status_code == 200
        headers = bearer(await login(client, "imani"))
        assert (await client.get("/api/logs", headers=headers)).status_code == 200
        assert (await client.get("/api/deliveries", headers=headers)).status_code == 403
        changed = {"permissions": ["traffic.read"], "description": "Watches traffic"}
        assert (await client.put("/api/roles/auditor", headers=admin, json=changed)).status_code == 200
        assert (await client.get("/api/logs", headers=headers)).status_code == 403
        assert (await client.get("/api/deliveries", headers=headers)).status_code == 200
        listed = (await client.get("/api/roles", headers=admin)).json()["roles"]
        assert listed[-1] == {"name": "auditor", "builtin": False, "description": "Watches traffic", "permissions": ["traffic.read"]}  # fmt: skip
        defined = [(r.detail["role"], r.detail["added"], r.detail["removed"]) for r in await audit_rows(client.gateway) if r.action == "role_defined"]  # fmt: skip
        assert defined == [("auditor", ["audit.read"], []), ("auditor", ["traffic.read"], ["audit.read"])]


async def test_a_role_defined_here_cannot_shadow_another_or_hold_an_unknown_permission(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"roles": REPORTER}) as client:
        admin = await user_headers(client.gateway, "admin")
        for name in ("operator", "admin", "reporter"):
            r = await client.put(f"/api/roles/{name}", headers=admin, json={"permissions": ["traffic.read"]})
            assert r.status_code == 409, name
        r = await client.put("/api/roles/auditor", headers=admin, json={"permissions": ["audit.raed"]})
        assert r.status_code == 422 and r.json()["errors"] == [{"field": "permissions", "message": "unknown: audit.raed"}]
        r = await client.put("/api/roles/Big%20Boss", headers=admin, json={"permissions": ["audit.read"]})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"
        assert (await client.put("/api/roles/auditor", headers=admin, json={"permissions": []})).status_code == 422
        assert [r["name"] for r in (await client.get("/api/roles", headers=admin)).json()["roles"]][-1] == "reporter"


async def test_a_role_in_use_cannot_be_removed(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        admin = await user_headers(client.gateway, "admin")
        await client.put("/api/roles/auditor", headers=admin, json={"permissions": ["audit.read"]})
        user = await make_user(client.gateway, "juma", role="auditor")
        refused = await client.delete("/api/roles/auditor", headers=admin)
        assert refused.status_code == 409 and "1 user(s) have the role auditor" in refused.json()["error"]
        await client.put(f"/api/users/{user.id}", headers=admin, json={"role": "viewer"})
        assert (await client.delete("/api/roles/auditor", headers=admin)).status_code == 204
        assert (await client.delete("/api/roles/auditor", headers=admin)).status_code == 404
        r = await client.put(f"/api/users/{user.id}", headers=admin, json={"role": "auditor"})
        assert r.status_code == 422


async def test_a_key_and_basic_credentials_of_a_user_of_a_role_defined_here_reach_what_it_holds(app_client) -> None:  # type: ignore[no-untyped-def]
    import base64

    async with app_client(plugins={"dhis2": {"compat": {"enabled": True}}}) as client:
        admin = await user_headers(client.gateway, "admin")
        await client.put("/api/roles/mapper", headers=admin, json={"permissions": ["dhis2.mappings.read"]})
        user = await make_user(client.gateway, "neema", role="mapper")
        basic = {"Authorization": "Basic " + base64.b64encode(f"neema:{PASSWORD}".encode()).decode()}
        assert (await client.get("/api/v2/mappings", headers=basic)).status_code == 200
        assert (await client.get("/api/v2/logs", headers=basic)).status_code == 403
        key = await issue_user_key(client.gateway, user.id, "k", ["*"], expires_at=None)
        assert (await client.get("/plugins/dhis2/mappings", headers={"X-API-Key": key})).status_code == 200
        assert (await client.get("/api/deliveries", headers={"X-API-Key": key})).status_code == 403


def test_has_role_still_ranks_the_built_in_roles_for_older_plugins() -> None:
    from core import Principal

    operator = Principal("user", "1", "ops", role="operator")
    assert operator.has_role("viewer") and operator.has_role("operator") and not operator.has_role("admin")
    assert not Principal("user", "2", "rep", role="reporter").has_role("viewer")


def test_the_role_keyword_of_plugin_api_1_2_still_declares_a_route() -> None:
    """``requires(role="operator")`` (a 1.2 plugin's keyword) asks what ``requires("operator")`` asks."""
    from core.auth.permissions import permission_of

    async def endpoint(request: Request) -> None: ...

    old = permission_of(requires(role="operator", scopes=["x:write"])(endpoint))
    assert old == permission_of(requires("operator", scopes=["x:write"])(endpoint))
    with pytest.raises(TypeError, match="not both"):
        requires("traffic.read", role="operator")
