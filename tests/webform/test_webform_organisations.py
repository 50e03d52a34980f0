"""Organisations through the API: admins add and change their own; config.toml's are read-only."""

from __future__ import annotations

from core.testing import user_headers
from tests.webform.conftest import ORG, code_in, request_code

NEW = {"slug": "beta", "name": "Beta Clinic", "origins": ["https://beta.example.org"], "notify": []}


async def test_an_admin_adds_an_organisation_whose_users_then_get_codes(webform_app, inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        admin = await user_headers(client.gateway, "admin")
        r = await client.post("/plugins/webform/organisations", json=NEW, headers=admin)
        assert r.status_code == 201, r.text
        sent = await request_code(client, org="beta")
        listed = await client.get("/plugins/webform/organisations", headers=admin)
    assert sent.status_code == 202 and code_in(inbox)
    assert [(o["slug"], o["source"]) for o in listed.json()["items"]] == [(ORG, "config"), ("beta", "api")]


async def test_an_organisation_is_changed_and_deleted(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        admin = await user_headers(client.gateway, "admin")
        await client.post("/plugins/webform/organisations", json=NEW, headers=admin)
        changed = await client.put(
            "/plugins/webform/organisations/beta", json={"name": "Beta", "origins": []}, headers=admin
        )
        deleted = await client.delete("/plugins/webform/organisations/beta", headers=admin)
        gone = await client.get("/plugins/webform/organisations/beta", headers=admin)
    assert changed.status_code == 200 and changed.json()["name"] == "Beta"
    assert deleted.status_code == 204 and gone.status_code == 404


async def test_a_config_organisation_is_read_only_through_the_api(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        admin = await user_headers(client.gateway, "admin")
        taken = await client.post("/plugins/webform/organisations", json={**NEW, "slug": ORG}, headers=admin)
        changed = await client.put(f"/plugins/webform/organisations/{ORG}", json={"name": "X"}, headers=admin)
        deleted = await client.delete(f"/plugins/webform/organisations/{ORG}", headers=admin)
    assert (taken.status_code, changed.status_code, deleted.status_code) == (409, 409, 409)


async def test_an_invalid_organisation_is_a_422_naming_the_field(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        admin = await user_headers(client.gateway, "admin")
        r = await client.post(
            "/plugins/webform/organisations", json={**NEW, "origins": ["https://x.org/path"]}, headers=admin
        )
    assert r.status_code == 422
    assert "origins" in r.text


async def test_an_operator_may_not_manage_organisations(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        operator = await user_headers(client.gateway, "operator")
        r = await client.post("/plugins/webform/organisations", json=NEW, headers=operator)
    assert r.status_code == 403
