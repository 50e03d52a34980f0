"""The console's web-form organisations: admins list, add, change and remove them; bad input changes nothing."""

from __future__ import annotations

import sqlalchemy as sa

from core.auth.users import create_user
from core.testing import GatewayClient
from plugins.webform.models import organisations
from tests.console.conftest import PASSWORD, XSS, log_in
from tests.webform.conftest import ORG

PAGE = "/admin/webform/organisations/"


async def signed_in(client: GatewayClient, role: str = "admin") -> str:
    """Log in as ``role``; the session's CSRF token."""
    await create_user(client.gateway, role, PASSWORD, role)
    return await log_in(client, role)


async def stored(client: GatewayClient) -> list[tuple[str, str]]:
    async with client.gateway.db.transaction() as conn:
        rows = await conn.execute(sa.select(organisations.c.slug, organisations.c.name).order_by(organisations.c.slug))
        return [(r.slug, r.name) for r in rows]


def form(token: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": token, "slug": "", "name": "", "origins": "", "notify": ""} | fields


async def test_an_admin_adds_an_organisation_and_sees_it_listed(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        token = await signed_in(client)
        r = await client.post(
            PAGE,
            data=form(
                token,
                slug="unicef",
                name="UNICEF",
                origins="https://forms.unicef.org\nhttps://unicef.org/",
                notify="a@unicef.org",
            ),
        )
        assert r.status_code == 303 and r.headers["location"] == PAGE + "?done=created:unicef"
        assert await stored(client) == [("unicef", "UNICEF")]
        page = await client.get(r.headers["location"])
        assert 'id="org-unicef"' in page.text and "https://unicef.org" in page.text and 'id="done"' in page.text
        assert f'id="org-{ORG}"' in page.text  # config.toml's, listed too
        assert "<td>this console</td>" in page.text and "<td>here</td>" not in page.text


async def test_a_bad_field_is_named_inline_and_nothing_is_saved(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        token = await signed_in(client)
        r = await client.post(
            PAGE, data=form(token, slug="Bad Slug!", name="", origins="ftp://x.org", notify="not-an-address")
        )
        assert r.status_code == 422
        for field in ("slug", "name", "origins", "notify"):
            assert f'id="error-{field}"' in r.text, field
        assert "ftp://x.org" in r.text and "is not an origin" in r.text  # what was typed stays in the form
        assert await stored(client) == []


async def test_an_htmx_form_gets_its_errors_in_place(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        token = await signed_in(client)
        r = await client.post(
            PAGE, data=form(token, slug="ok", name="Ok", notify="nope"), headers={"HX-Request": "true"}
        )
        assert r.status_code == 200 and "<html" not in r.text and 'id="error-notify"' in r.text
        assert await stored(client) == []


async def test_a_slug_taken_in_config_is_refused_on_the_slug_field(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        token = await signed_in(client)
        r = await client.post(PAGE, data=form(token, slug=ORG, name="Again"))
        assert r.status_code == 409 and 'id="error-slug"' in r.text and "config.toml" in r.text
        assert await stored(client) == []


async def test_an_admin_changes_and_removes_an_organisation(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        token = await signed_in(client)
        await client.post(PAGE, data=form(token, slug="unicef", name="UNICEF"))
        assert (await client.get(PAGE + "unicef")).status_code == 200
        bad = await client.post(PAGE + "unicef", data=form(token, name=""))
        assert bad.status_code == 422 and 'id="error-name"' in bad.text
        assert await stored(client) == [("unicef", "UNICEF")]
        r = await client.post(PAGE + "unicef", data=form(token, name="UNICEF Uganda"))
        assert r.status_code == 303 and await stored(client) == [("unicef", "UNICEF Uganda")]
        r = await client.post(PAGE + "unicef/delete", data={"csrf_token": token})
        assert r.status_code == 303 and await stored(client) == []


async def test_a_config_organisation_is_shown_read_only_and_cannot_be_removed(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        token = await signed_in(client)
        page = await client.get(PAGE + ORG)
        assert page.status_code == 200 and 'id="save"' not in page.text and "config.toml" in page.text
        assert (await client.post(PAGE + f"{ORG}/delete", data={"csrf_token": token})).status_code == 409
        assert (await client.get(PAGE + "no-such-org")).status_code == 404


async def test_outside_text_is_escaped(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        token = await signed_in(client)
        await client.post(PAGE, data=form(token, slug="xss", name=XSS))
        page = await client.get(PAGE)
        assert XSS not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        await signed_in(client)
        r = await client.post(PAGE, data={"slug": "unicef", "name": "UNICEF"})
        assert r.status_code == 403 and await stored(client) == []


async def test_operators_and_viewers_are_refused_the_page_and_its_forms(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app() as client:
        for role in ("viewer", "operator"):
            token = await signed_in(client, role)
            assert (await client.get(PAGE)).status_code == 403
            assert (await client.post(PAGE, data=form(token, slug="unicef", name="UNICEF"))).status_code == 403
            assert 'href="/admin/webform/organisations"' not in (await client.get("/admin/")).text
        assert await stored(client) == []
