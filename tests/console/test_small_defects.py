"""Small defects of the console's pages: ids, signups, notices, reloads, the favicon."""

from __future__ import annotations

import re

from core.auth.users import create_user, find_user
from core.testing import GatewayClient
from tests.console.conftest import PASSWORD, dead_delivery, log_in
from tests.support.receiver import Receiver


async def test_the_dashboard_has_one_element_of_each_id(gw: GatewayClient) -> None:
    await log_in(gw, "viewer")
    page = await gw.get("/admin/")
    ids = re.findall(r'\sid="([^"]+)"', page.text)
    assert ids.count("figures") == 1 and len(ids) == len(set(ids))


async def test_each_pending_signup_is_an_item_of_its_own_with_a_role_to_choose(gw: GatewayClient) -> None:
    for name in ("amina", "baraka"):
        await create_user(gw.gateway, name, PASSWORD, "viewer", status="pending", full_name=name.title())
    await log_in(gw, "admin")
    page = await gw.get("/admin/users")
    pending = page.text[page.text.index('id="pending"') :].split("</section>")[0]
    items = re.findall(r"<li>.*?</li>", pending, re.S)
    assert len(items) == 2 and "amina" in items[0] and "baraka" in items[1]
    assert all('name="role"' in i for i in items)


async def test_a_bulk_requeue_says_what_it_did_in_words(gw: GatewayClient, receiver: Receiver) -> None:
    await dead_delivery(gw, receiver)
    token = await log_in(gw, "operator")
    data = {"csrf_token": token, "action": "requeue", "status": "dead", "confirmed": "yes"}
    r = await gw.post("/admin/deliveries/bulk", data=data)
    assert r.status_code == 303 and "done=" not in r.headers["location"]
    page = await gw.get(r.headers["location"])
    assert "Requeued 1 delivery." in page.text and "requeue:1" not in page.text


async def test_reloading_a_users_address_after_a_form_is_the_users_page(gw: GatewayClient) -> None:
    viewer = await find_user(gw.gateway, "viewer")
    assert viewer is not None
    await log_in(gw, "admin")
    r = await gw.get(f"/admin/users/{viewer.id}")
    assert r.status_code == 303 and r.headers["location"] == "/admin/users"


async def test_every_page_names_its_favicon_and_it_is_served(gw: GatewayClient) -> None:
    login = await gw.get("/admin/login")
    link = re.search(r'<link rel="icon" href="([^"]+)"', login.text)
    assert link
    icon = await gw.get(link.group(1))
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
