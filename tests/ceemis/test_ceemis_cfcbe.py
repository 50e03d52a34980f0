"""CFCBE's case URLs ([plugins.ceemis.cfcbe]): the helpline's, CEEMIS's and EEMIS's own requests, at the old paths."""

from __future__ import annotations

import json
from typing import Any

from core.testing import GatewayClient, api_key_headers
from tests.ceemis.cases import helpline_headers, new_case, run_until

CFCBE = {"cfcbe": {"enabled": True}}
JSON = {"Content-Type": "application/json"}


async def send(client: GatewayClient, method: str, path: str, data: Any, headers: dict[str, str]) -> Any:
    return await client.request(method, path, content=json.dumps(data).encode(), headers={**JSON, **headers})


async def test_the_helpline_creates_updates_and_reads_a_case_at_cfcbes_paths(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app(**CFCBE) as client:
        helpline = await helpline_headers(client)
        r = await send(client, "POST", "/api/webhook/helpline/case/ceemis/", new_case("HL-2001"), helpline)
        assert r.status_code == 200 and r.json()["stored"] == 1, r.text
        update = {"ref": "HL-2001", "status": "closed", "narrative": "Passport returned.", "update_id": "u-1"}
        r = await send(client, "PUT", "/api/webhook/helpline/case/ceemis/update/", update, helpline)
        assert r.status_code == 200 and r.json()["stored"] == 1, r.text
        reader = await api_key_headers(client.gateway, ["ceemis:read"])

        async def delivered() -> bool:
            r = await client.get("/api/case/status/HL-2001/", headers=reader)
            return r.status_code == 200 and r.json()["updates"][0]["state"] == "delivered"

        await run_until(client, delivered)
        status = (await client.get("/api/case/status/HL-2001", headers=reader)).json()
        assert status["state"] == "delivered" and status["ceemis_id"]
        assert len(ceemis.cases) == 1 and len(ceemis.updates) == 1


async def test_the_update_url_never_creates_a_case(ceemis_app) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app(**CFCBE) as client:
        helpline = await helpline_headers(client)
        r = await send(client, "PUT", "/api/webhook/helpline/case/ceemis/update", new_case("HL-2002"), helpline)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ref"
        reader = await api_key_headers(client.gateway, ["ceemis:read"])
        assert (await client.get("/api/case/status/HL-2002", headers=reader)).status_code == 404


async def test_cases_from_ceemis_and_eemis_arrive_at_cfcbes_paths(ceemis_app) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app(**CFCBE, routes=[]) as client:
        from_ceemis = await api_key_headers(client.gateway, [], platform="ceemis")
        case = {"case_id": "MGLSD000900", "mw_name": "Joseph O.", "narrative": "Stranded at the border."}
        for path in ("/api/webhook/ceemis/create/", "/api/webhook/ceemis/create"):
            r = await send(client, "POST", path, case, from_ceemis)
            assert r.status_code == 200 and r.json()["received"] == 1, r.text
        from_eemis = await api_key_headers(client.gateway, [], platform="eemis")
        r = await send(client, "POST", "/api/webhook/eemis", {"case_id": "EEMIS-77"}, from_eemis)
        assert r.status_code == 200 and r.json()["stored"] == 1, r.text
        r = await send(client, "POST", "/api/webhook/eemis/", {"case_id": "EEMIS-77"}, from_eemis)
        assert r.status_code == 200 and r.json()["duplicates"] == 1, r.text
        # Each sender keeps its own credential: EEMIS's key does not post CEEMIS's cases.
        r = await send(client, "POST", "/api/webhook/ceemis/create/", case, from_eemis)
        assert r.status_code == 403


async def test_cfcbes_paths_refuse_what_the_webhooks_refuse(ceemis_app) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app(**CFCBE) as client:
        r = await send(client, "POST", "/api/webhook/helpline/case/ceemis/", new_case(), {})
        assert r.status_code == 401
        helpline = await helpline_headers(client)
        r = await client.post("/api/webhook/helpline/case/ceemis/", content=b"{", headers={**JSON, **helpline})
        assert r.status_code == 400
        assert (await client.get("/api/case/status/HL-1001/")).status_code == 401
        reader = await api_key_headers(client.gateway, ["ceemis:read"])
        assert (await client.get("/api/case/status/NOPE/", headers=reader)).status_code == 404


async def test_cfcbes_paths_are_absent_unless_enabled(ceemis_app) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app() as client:
        helpline = await helpline_headers(client)
        r = await send(client, "POST", "/api/webhook/helpline/case/ceemis/", new_case(), helpline)
        assert r.status_code == 404
