"""Roles in the console: the roles page, a configured role given to a user, what its pages offer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

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
