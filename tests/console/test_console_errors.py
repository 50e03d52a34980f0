"""Every console request answers HTML: a field's error beside its input, what was typed kept; other errors as the console's page."""

from __future__ import annotations

import re

import pytest

from core.auth.users import find_user
from core.testing import GatewayClient
from tests.console.conftest import csrf_in, log_in


def is_page(r: object) -> bool:
    headers = getattr(r, "headers")
    return str(headers["content-type"]).startswith("text/html")


async def test_a_key_with_an_unknown_scope_is_refused_beside_the_scopes_with_what_was_typed(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    r = await gw.post("/admin/keys", data={"csrf_token": token, "name": "crm-sync", "scopes": "nope:scope"})
    assert r.status_code == 422 and is_page(r)
    assert re.search(r'name="scopes"[^>]*aria-invalid="true"', r.text)
    assert 'id="error-scopes"' in r.text and "unknown scope" in r.text
    assert 'value="crm-sync"' in r.text and 'value="nope:scope"' in r.text


async def test_a_weak_password_is_refused_beside_it_and_the_username_is_kept(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    data = {"csrf_token": token, "username": "bob", "full_name": "Bob B", "password": "x", "role": "operator"}
    r = await gw.post("/admin/users", data=data)
    assert r.status_code == 422 and is_page(r)
    assert 'id="error-password"' in r.text
    assert 'value="bob"' in r.text and 'value="Bob B"' in r.text
    assert 'value="x"' not in r.text  # a password is never sent back


async def test_a_taken_username_is_refused_beside_it(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    data = {"csrf_token": token, "username": "viewer", "password": "a much longer password 7", "role": "viewer"}
    r = await gw.post("/admin/users", data=data)
    assert r.status_code == 409 and is_page(r) and 'id="error-username"' in r.text


async def test_demoting_the_last_admin_answers_the_consoles_error_page(gw: GatewayClient) -> None:
    admin = await find_user(gw.gateway, "admin")
    assert admin is not None
    token = await log_in(gw, "admin")
    r = await gw.post(f"/admin/users/{admin.id}", data={"csrf_token": token, "action": "role", "role": "viewer"})
    assert r.status_code == 409 and is_page(r) and "last active admin" in r.text


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/admin/deliveries?since=yesterday", "since"),
        ("/admin/deliveries?status=lost", "status"),
        ("/admin/messages?until=13/13/2024", "until"),
        ("/admin/logs?status=abc", "status"),
        ("/admin/conversations?status=ajar", "status"),
    ],
)
async def test_a_bad_filter_in_the_url_is_shown_beside_its_input(gw: GatewayClient, path: str, field: str) -> None:
    await log_in(gw, "operator")
    r = await gw.get(path)
    assert r.status_code in (400, 422) and is_page(r)
    assert f'id="error-{field}"' in r.text
    partial = await gw.get(path, headers={"HX-Request": "true"})
    assert is_page(partial) and 'role="alert"' in partial.text


async def test_a_bad_cursor_is_an_error_above_an_empty_list(gw: GatewayClient) -> None:
    await log_in(gw, "viewer")
    r = await gw.get("/admin/messages?cursor=not-a-cursor&kind=text")
    assert r.status_code in (400, 422) and is_page(r) and 'role="alert"' in r.text
    assert re.search(r'<option selected>text</option>', r.text)  # the other filters kept


@pytest.mark.parametrize(
    "path",
    ["/admin/messages/00000000-0000-0000-0000-000000000000", "/admin/deliveries/nope", "/admin/logs/999999", "/admin/no-such-page"],
)
async def test_an_unknown_record_or_page_is_the_consoles_404_page(gw: GatewayClient, path: str) -> None:
    await log_in(gw, "operator")
    r = await gw.get(path)
    assert r.status_code == 404 and is_page(r) and 'id="error"' in r.text


async def test_a_method_the_address_does_not_take_is_the_consoles_page(gw: GatewayClient) -> None:
    token = await log_in(gw, "admin")
    r = await gw.put("/admin/users", data={"csrf_token": token})
    assert r.status_code == 405 and is_page(r)


async def test_the_login_page_still_answers_a_wrong_csrf_token_as_a_page(gw: GatewayClient) -> None:
    page = await gw.get("/admin/login")
    csrf_in(page.text)
    r = await gw.post("/admin/login", data={"username": "viewer", "password": "x", "csrf_token": "forged"})
    assert r.status_code == 403 and is_page(r)
