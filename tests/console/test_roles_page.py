"""Roles in the console: the roles page, a configured role given to a user, what its pages offer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from core import AdminPage, hookimpl, requires
from core.auth.users import create_user, find_user
from core.testing import GatewayClient
from tests.console.conftest import PASSWORD, log_in

REPORTER = ["traffic.read", "reports.read", "reports.request"]


@pytest.fixture
async def gw(app_client: Any) -> AsyncIterator[GatewayClient]:
    async with app_client(auth={"roles": {"reporter": {"permissions": REPORTER}}}) as client:
        for role in ("viewer", "operator", "admin", "reporter"):
            await create_user(client.gateway, role, PASSWORD, role)
        yield client


def _nav(page: str) -> str:
    return page[page.index('<nav class="side"') : page.index("</nav>")]


async def test_the_roles_page_shows_which_role_holds_each_permission(gw: GatewayClient) -> None:
    await log_in(gw, "admin")
    page = (await gw.get("/admin/roles")).text
    assert '<th scope="col">reporter <small>(configured)</small></th>' in page
    assert "<code>reports.request</code>" in page and "<code>deliveries.repair</code>" in page
    assert 'aria-label="reporter holds reports.request"' in page
    assert "reporter lacks deliveries.repair" in page and 'aria-label="operator holds deliveries.repair"' in page
    assert 'href="/admin/roles"' in _nav(page)


async def test_the_roles_page_is_for_those_who_manage_users(gw: GatewayClient) -> None:
    await log_in(gw, "operator")
    assert (await gw.get("/admin/roles")).status_code == 403
    assert 'href="/admin/roles"' not in _nav((await gw.get("/admin/")).text)


async def test_an_admin_gives_a_user_a_configured_role_from_the_users_page(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    assert "<option >reporter</option>" in (await gw.get("/admin/users")).text
    viewer = await find_user(gw.gateway, "viewer")
    form = {"csrf_token": token, "action": "role", "role": "reporter"}
    assert (await gw.post(f"/admin/users/{viewer.id}", data=form)).status_code == 303  # type: ignore[union-attr]
    assert (await find_user(gw.gateway, "viewer")).role == "reporter"  # type: ignore[union-attr]


async def test_a_reporter_sees_the_pages_and_buttons_of_its_permissions_only(gw: GatewayClient) -> None:
    await log_in(gw, "reporter")
    nav = _nav((await gw.get("/admin/")).text)
    assert 'href="/admin/deliveries"' in nav and 'href="/admin/reports"' in nav
    assert 'href="/admin/messages"' not in nav and 'href="/admin/users"' not in nav and 'href="/admin/logs"' not in nav
    assert 'id="request"' in (await gw.get("/admin/reports/")).text  # the form to request a report
    assert "Requeue all matching" not in (await gw.get("/admin/deliveries")).text
    assert (await gw.get("/admin/messages")).status_code == 403


async def test_an_operator_still_sees_the_repair_buttons(gw: GatewayClient) -> None:
    await log_in(gw, "operator")
    assert "Requeue all matching" in (await gw.get("/admin/deliveries")).text
    assert 'href="/admin/messages"' in _nav((await gw.get("/admin/")).text)


async def test_an_admin_defines_a_role_on_the_roles_page_and_a_user_of_it_gets_its_pages(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    form = {"csrf_token": token, "name": "auditor", "description": "Reads the audit log", "permissions": ["audit.read", "traffic.read"]}  # fmt: skip
    r = await gw.post("/admin/roles", data=form)
    assert r.status_code == 303 and r.headers["location"] == "/admin/roles"
    page = (await gw.get("/admin/roles")).text
    assert "Role auditor defined." in page and '<th scope="col">auditor <small>(defined here)</small></th>' in page
    assert 'aria-label="auditor holds audit.read"' in page and "auditor lacks content.read" in page
    edit = (await gw.get("/admin/roles?edit=auditor")).text
    assert 'value="audit.read" checked' in edit and 'value="content.read">' in edit
    viewer = await find_user(gw.gateway, "viewer")
    role = {"csrf_token": token, "action": "role", "role": "auditor"}
    assert (await gw.post(f"/admin/users/{viewer.id}", data=role)).status_code == 303  # type: ignore[union-attr]
    await log_in(gw, "viewer")
    assert (await gw.get("/admin/logs")).status_code == 200
    assert (await gw.get("/admin/messages")).status_code == 403


async def test_a_bad_role_is_shown_beside_its_field_and_a_role_in_use_is_not_removed(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    r = await gw.post("/admin/roles", data={"csrf_token": token, "name": "Bad Name", "permissions": ["audit.read"]})
    assert r.status_code == 422 and 'id="error-name"' in r.text and 'value="Bad Name"' in r.text
    r = await gw.post("/admin/roles", data={"csrf_token": token, "name": "operator", "permissions": ["audit.read"]})
    assert r.status_code == 409 and 'id="error-name"' in r.text
    await gw.post("/admin/roles", data={"csrf_token": token, "name": "auditor", "permissions": ["audit.read"]})
    operator = await find_user(gw.gateway, "operator")
    await gw.post(f"/admin/users/{operator.id}", data={"csrf_token": token, "action": "role", "role": "auditor"})  # type: ignore[union-attr]
    refused = await gw.post("/admin/roles/auditor/delete", data={"csrf_token": token})
    assert refused.status_code == 409
    await gw.post(f"/admin/users/{operator.id}", data={"csrf_token": token, "action": "role", "role": "operator"})  # type: ignore[union-attr]
    assert (await gw.post("/admin/roles/auditor/delete", data={"csrf_token": token})).status_code == 303
    page = (await gw.get("/admin/roles")).text
    assert "Role auditor removed." in page and '<th scope="col">auditor' not in page


class _Ledger:
    """A third party's console pages: one written before permissions (a role), one with a permission."""

    @hookimpl
    def switchboard_admin_pages(self) -> list[AdminPage]:
        @requires("operator")
        async def old(request: Request) -> Response:
            return HTMLResponse("old")

        @requires("reports.request")
        async def new(request: Request) -> Response:
            return HTMLResponse("new")

        return [
            AdminPage("/ledger-old", "Old ledger", [Route("/", old)], role="operator"),
            AdminPage("/ledger-new", "New ledger", [Route("/", new)], permission="reports.request"),
        ]


async def test_a_plugin_pages_entry_is_shown_to_the_roles_holding_its_permission_or_its_roles(app_client: Any) -> None:
    async with app_client(
        extra_plugins=[("ledger", _Ledger())], auth={"roles": {"reporter": {"permissions": REPORTER}}}
    ) as client:
        for role in ("viewer", "operator", "reporter"):
            await create_user(client.gateway, role, PASSWORD, role)
        seen = {}
        for role in ("viewer", "operator", "reporter"):
            await log_in(client, role)
            nav = _nav((await client.get("/admin/")).text)
            seen[role] = ('href="/admin/ledger-old"' in nav, 'href="/admin/ledger-new"' in nav)
        assert seen == {"viewer": (False, False), "operator": (True, True), "reporter": (False, True)}
