"""What the helpline, CEEMIS and EEMIS post: validation, authentication, de-duplication, routing."""

from __future__ import annotations

import json

from core.testing import api_key_headers, user_headers
from tests.ceemis.cases import case_status, new_case, post_case, signed, stored_messages
from tests.support.dhis2 import settled
from tests.support.receiver import running_receiver

SECRET = "helpline-signing-secret-0123456789"


async def test_a_case_without_its_required_fields_is_refused_naming_each(ceemis_app) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app() as client:
        answer = await post_case(client, {"clients_case": []}, status=422)
        assert sorted(e["field"] for e in answer["errors"]) == [
            "case_category",
            "narrative",
            "src",
            "src_callid",
            "src_uid",
        ]
        assert await stored_messages(client) == []


async def test_fields_of_the_wrong_type_are_refused_naming_each(ceemis_app) -> None:  # type: ignore[no-untyped-def]
    case = new_case(narrative=42, clients_case=[{"fname": "A", "phone": 256700}], perpetrators_case="employer")
    async with ceemis_app() as client:
        answer = await post_case(client, case, status=422)
        assert sorted(e["field"] for e in answer["errors"]) == ["clients_case.0.phone", "narrative", "perpetrators_case"]
        assert await stored_messages(client) == []
        await case_status(client, "HL-1001", status=404)


async def test_an_update_with_nothing_to_change_is_refused(ceemis_app) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app() as client:
        answer = await post_case(client, {"ref": "HL-1001"}, status=422)
        assert answer["errors"][0]["field"] == "(body)"
        answer = await post_case(client, {"ref": "", "status": 3}, status=422)
        assert sorted(e["field"] for e in answer["errors"]) == ["ref", "status"]
        assert await stored_messages(client) == []


async def test_a_body_that_is_not_json_is_a_400_and_not_an_object_a_422(ceemis_app) -> None:  # type: ignore[no-untyped-def]
    from tests.ceemis.cases import helpline_headers

    async with ceemis_app() as client:
        headers = await helpline_headers(client)
        r = await client.post("/webhooks/helpline", content=b'{"src": "call",', headers=headers)
        assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
        r = await client.post("/webhooks/helpline", content=b"[1, 2]", headers=headers)
        assert r.status_code == 422 and r.json()["errors"] == [{"field": "(body)", "message": "expected a JSON object"}]
        assert await stored_messages(client) == []


async def test_an_unknown_case_reference_is_a_404(ceemis_app) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app() as client:
        answer = await case_status(client, "HL-404", status=404)
        assert "HL-404" in answer["error"]


async def test_the_case_status_needs_the_read_scope(ceemis_app) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app() as client:
        assert (await client.get("/plugins/ceemis/cases/HL-1")).status_code == 401
        wrong = await api_key_headers(client.gateway, ["messages:read"])
        assert (await client.get("/plugins/ceemis/cases/HL-1", headers=wrong)).status_code == 403


async def test_a_helpline_post_without_a_valid_key_is_a_401_and_stores_nothing(ceemis_app) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app() as client:
        await post_case(client, new_case(), status=401, headers={"X-API-Key": "sb_not-a-key"})
        await post_case(client, new_case(), status=401, headers={"X-Unrelated": "1"})
        other = await api_key_headers(client.gateway, [], platform="eemis")
        await post_case(client, new_case(), status=403, headers=other)
        assert await stored_messages(client) == []


async def test_a_signed_in_users_token_of_any_role_cannot_post_a_case(ceemis_app) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app() as client:
        for role in ("viewer", "operator", "admin"):
            await post_case(client, new_case(), status=403, headers=await user_headers(client.gateway, role))
            r = await client.post(
                "/webhooks/eemis", content=json.dumps(new_case()).encode(), headers=await user_headers(client.gateway, role)
            )
            assert r.status_code == 403, r.text
        assert await stored_messages(client) == []
        await post_case(client, new_case(), headers=await api_key_headers(client.gateway, ["webhooks:helpline"]))


async def test_a_signed_helpline_post_is_accepted_and_a_bad_signature_is_a_401(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app(webhooks={"helpline": {"secret": SECRET}}) as client:
        body = json.dumps(new_case()).encode()
        r = await client.post("/webhooks/helpline", content=body, headers=signed("some-other-secret", body))
        assert r.status_code == 401
        key = await api_key_headers(client.gateway, [], platform="helpline")
        assert (await client.post("/webhooks/helpline", content=body, headers=key)).status_code == 401
        assert await stored_messages(client) == []
        r = await client.post("/webhooks/helpline", content=body, headers=signed(SECRET, body))
        assert r.status_code == 200, r.text
        assert await settled(client.gateway) == {"delivered": 1}


async def test_a_non_ascii_signature_is_a_401_not_a_server_error(ceemis_app) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app(webhooks={"helpline": {"secret": SECRET}}) as client:
        body = json.dumps(new_case()).encode()
        for given in ("sha256=" + "é" * 64, "²" * 64):
            r = await client.post("/webhooks/helpline", content=body, headers={"X-Signature": given.encode()})
            assert r.status_code == 401, r.text
        assert await stored_messages(client) == []


async def test_a_helpline_retry_of_a_case_or_an_update_is_stored_once(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app() as client:
        first = await post_case(client, new_case())
        again = await post_case(client, new_case())
        assert again["duplicates"] == 1 and again["messages"][0]["id"] == first["messages"][0]["id"]
        update = {"ref": "HL-1001", "status": "closed"}
        assert (await post_case(client, update))["stored"] == 1
        assert (await post_case(client, update))["duplicates"] == 1
        numbered = {"ref": "HL-1001", "status": "closed", "update_id": "7"}
        assert (await post_case(client, numbered))["stored"] == 1
        assert (await post_case(client, numbered))["duplicates"] == 1
        assert await settled(client.gateway) == {"delivered": 3}
        assert [r.kind for r in ceemis.answered()] == ["create", "update", "update"]


async def test_a_case_and_its_updates_share_one_conversation(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app() as client:
        await post_case(client, new_case())
        assert await settled(client.gateway) == {"delivered": 1}
        await post_case(client, {"ref": "HL-1001", "status": "in_progress"})
        await post_case(client, {"ref": "MGLSD000001", "status": "closed"})
        conversations = {m["conversation_id"] for m in await stored_messages(client)}
        assert len(conversations) == 1


async def test_a_case_made_in_ceemis_reaches_the_configured_http_destination(ceemis_app) -> None:  # type: ignore[no-untyped-def]
    case = {"case_id": "MGLSD000900", "mw_name": "Joseph O.", "mw_phone": "+256711000111", "narrative": "Stranded."}
    async with running_receiver() as receiver:
        http = {"destinations": {"helpline-cases": {"url": receiver.url}}}
        routes = [{"source": "ceemis", "destinations": ["helpline-cases"]}]
        async with ceemis_app(http=http, routes=routes) as client:
            key = await api_key_headers(client.gateway, [], platform="ceemis")
            r = await client.post("/webhooks/ceemis", content=json.dumps(case).encode(), headers=key)
            assert r.status_code == 200 and r.json()["stored"] == 1, r.text
            again = await client.post("/webhooks/ceemis", content=json.dumps(case).encode(), headers=key)
            assert again.json()["duplicates"] == 1
            assert await settled(client.gateway) == {"delivered": 1}
        [sent] = receiver.bodies()
        assert (sent["platform"], sent["kind"]) == ("ceemis", "case")
        assert sent["external_id"].startswith("case:MGLSD000900:")
        assert (sent["sender"], sent["sender_name"], sent["text"]) == ("+256711000111", "Joseph O.", "Stranded.")
        assert sent["raw"] == case and sent["extra"] == {"case_id": "MGLSD000900", "source": "ceemis"}


async def test_a_case_changed_in_ceemis_is_delivered_and_a_replay_of_it_is_a_duplicate(ceemis_app) -> None:  # type: ignore[no-untyped-def]
    case = {"case_id": "MGLSD000901", "mw_name": "Joseph O.", "status": "open", "narrative": "Stranded."}
    changed = {**case, "status": "closed"}
    replay = dict(reversed(list(changed.items())))  # the same case, its keys in another order
    async with running_receiver() as receiver:
        http = {"destinations": {"helpline-cases": {"url": receiver.url}}}
        routes = [{"source": "ceemis", "destinations": ["helpline-cases"]}]
        async with ceemis_app(http=http, routes=routes) as client:
            key = await api_key_headers(client.gateway, [], platform="ceemis")
            answers = []
            for body in (case, changed, replay):
                r = await client.post("/webhooks/ceemis", content=json.dumps(body).encode(), headers=key)
                assert r.status_code == 200, r.text
                answers.append((r.json()["stored"], r.json()["duplicates"]))
            assert answers == [(1, 0), (1, 0), (0, 1)]
            assert await settled(client.gateway) == {"delivered": 2}
            assert len({m["conversation_id"] for m in await stored_messages(client)}) == 1
        # Each version once. The http destination sends deliveries concurrently and promises no
        # order (the ceemis destination is the one that keeps a case's updates in order): the
        # two posts race, and a CI run saw the "closed" one arrive first.
        assert sorted(b["raw"]["status"] for b in receiver.bodies()) == ["closed", "open"]


async def test_a_signed_eemis_case_is_routed_and_a_bad_signature_is_a_401(ceemis_app) -> None:  # type: ignore[no-untyped-def]
    cases = [{"caseid": 5501, "name": "Grace A."}, {"caseid": "5502"}]
    body = json.dumps(cases).encode()
    async with running_receiver() as receiver:
        http = {"destinations": {"helpline-cases": {"url": receiver.url}}}
        routes = [{"source": "eemis", "destinations": ["helpline-cases"]}]
        async with ceemis_app(http=http, routes=routes, webhooks={"eemis": {"secret": SECRET}}) as client:
            bad = await client.post("/webhooks/eemis", content=body, headers=signed("wrong-secret-0123456789", body))
            assert bad.status_code == 401
            r = await client.post("/webhooks/eemis", content=body, headers=signed(SECRET, body))
            assert r.status_code == 200 and r.json()["stored"] == 2, r.text
            assert await settled(client.gateway) == {"delivered": 2}
        assert sorted(b["extra"]["case_id"] for b in receiver.bodies()) == ["5501", "5502"]


async def test_a_ceemis_case_without_a_case_id_is_refused(ceemis_app) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app() as client:
        key = await api_key_headers(client.gateway, [], platform="ceemis")
        r = await client.post("/webhooks/ceemis", content=b'[{"case_id": "C1"}, {"name": "x"}, 3]', headers=key)
        assert r.status_code == 422
        assert [e["field"] for e in r.json()["errors"]] == ["1.case_id", "2"]
        r = await client.post("/webhooks/ceemis", content=b"{not json", headers=key)
        assert r.status_code == 400
        assert await stored_messages(client) == []
