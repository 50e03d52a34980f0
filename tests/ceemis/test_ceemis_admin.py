"""The console's CEEMIS case lookup: a case by any reference with its updates and deliveries; the latest cases."""

from __future__ import annotations

import re

import sqlalchemy as sa

from core.auth.users import create_user
from core.testing import GatewayClient
from plugins.ceemis.models import cases
from tests.ceemis.cases import new_case, post_case
from tests.console.conftest import PASSWORD, XSS, log_in
from tests.support.dhis2 import settled


async def signed_in(client: GatewayClient, role: str = "viewer") -> None:
    await create_user(client.gateway, role, PASSWORD, role)
    await log_in(client, role)


async def test_a_case_is_looked_up_by_reference_with_its_ceemis_id_updates_and_deliveries(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app() as client:
        created = await post_case(client, new_case())
        await post_case(client, {"ref": "HL-1001", "status": "in progress", "update_id": "u-1"})
        await post_case(client, {"ref": "CALL-HL-1001", "status": "closed", "update_id": "u-2"})
        assert await settled(client.gateway) == {"delivered": 3}
        await signed_in(client)
        for reference in ("HL-1001", "MGLSD000001", created["messages"][0]["id"]):
            page = await client.get("/admin/ceemis/cases/", params={"reference": reference})
            assert page.status_code == 200, page.text
            assert "MGLSD000001" in page.text and 'class="status s-delivered"' in page.text
            # The updates in the order received, each linking to its delivery.
            assert page.text.index("in progress") < page.text.index("closed")
            assert page.text.count('href="/admin/deliveries/') == 3
            assert f'href="/admin/deliveries/{created["messages"][0]["deliveries"][0]}"' in page.text


async def test_an_unknown_reference_says_so_on_the_page_as_a_404(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app() as client:
        await signed_in(client)
        page = await client.get("/admin/ceemis/cases/", params={"reference": XSS})
        assert page.status_code == 404
        assert 'id="not-found"' in page.text and "No case is known by" in page.text
        assert XSS not in page.text and "&lt;script&gt;" in page.text
        fragment = await client.get(
            "/admin/ceemis/cases/", params={"reference": "HL-0"}, headers={"HX-Request": "true"}
        )
        assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="not-found"' in fragment.text


async def test_without_a_reference_the_latest_cases_are_listed_newest_first_a_page_at_a_time(
    ceemis_app, ceemis
) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app(create_url=None, update_url=None, routes=[]) as client:
        for n in range(3):
            await post_case(client, new_case(f"HL-20{n}"))
        await signed_in(client)
        page = await client.get("/admin/ceemis/cases/")
        assert page.status_code == 200
        assert page.text.index("HL-202") < page.text.index("HL-201") < page.text.index("HL-200")
        assert "3 cases" in page.text and "Newest" not in page.text
        async with client.gateway.db.transaction() as conn:
            newest = (await conn.execute(sa.select(sa.func.max(cases.c.id)))).scalar_one()
        older = await client.get("/admin/ceemis/cases/", params={"cursor": str(newest)})
        assert "HL-202" not in older.text and older.text.index("HL-201") < older.text.index("HL-200")
        assert "3 cases" in older.text and "Newest" in older.text
        newer = re.search(r'<a href="([^"]+)"[^>]*rel="prev">', older.text)
        assert newer is not None
        back = await client.get(newer.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
        assert "HL-202" in back.text and "HL-201" not in back.text and "<html" not in back.text
        assert (await client.get("/admin/ceemis/cases/", params={"before": "x" * 40})).status_code == 200


async def test_the_page_changes_nothing_and_is_refused_to_an_api_key(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    from core.testing import api_key_headers

    async with ceemis_app() as client:
        await post_case(client, new_case())
        await signed_in(client)
        page = await client.get("/admin/ceemis/cases/", params={"reference": "HL-1001"})
        main = page.text.split("<main", 1)[1]
        assert 'method="post"' not in main
        client.cookies.clear()
        r = await client.get("/admin/ceemis/cases/", headers=await api_key_headers(client.gateway, ["*"]))
        assert r.status_code == 403
