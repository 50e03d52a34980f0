"""Sending helpline cases to CEEMIS: the forms, the order per case, the case id, failures."""

from __future__ import annotations

from tests.ceemis.cases import case_status, delivery, new_case, post_case, run_until
from tests.support.dhis2 import settled

FORM_FIELDS = {
    "mw_name": "Aisha N.",
    "mw_phone": "+256700100200",
    "mw_email": "aisha@example.org",
    "mw_passport": "B1234567",
    "mw_sys_id": "CM900112233",
    "mw_country": "Saudi Arabia",
    "mw_city": "Riyadh",
    "mw_loca": "Riyadh",
    "emp_sector": "Domestic work",
    "emp_name": "Desert Homes Ltd",
    "emp_number": "EMP-4411",
    "location": "Riyadh, Al Olaya",
    "comp_category": "Labour exploitation",
    "mw_narative": "Worker's passport held by employer; wages unpaid for 3 months.",
}


async def test_an_update_sent_before_its_create_was_delivered_follows_it_in_order(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    ceemis.fail_with(503, times=None, when=lambda r: r.kind == "create")
    async with ceemis_app() as client:
        created = await post_case(client, new_case())
        first = await post_case(client, {"ref": "HL-1001", "status": "in_progress", "narrative": "Called employer."})
        second = await post_case(client, {"ref": "HL-1001", "status": "closed"})
        update_id = first["messages"][0]["deliveries"][0]

        async def update_waited() -> bool:
            attempts = (await delivery(client, update_id))["attempts"]
            return any((a["error"] or "").startswith("waiting:") for a in attempts)

        await run_until(client, update_waited)
        assert ceemis.answered("update") == []
        ceemis.heal()
        assert await settled(client.gateway) == {"delivered": 3}

        sent = ceemis.answered()
        assert [r.kind for r in sent] == ["create", "update", "update"]
        assert all(r.content_type.startswith("multipart/form-data") for r in sent)
        assert sent[0].form == FORM_FIELDS
        category = {"comp_category": "Labour exploitation"}  # CEEMIS requires it: from the case
        assert sent[1].form == {
            "caseid": "MGLSD000001", "status": "in_progress", "mw_narative": "Called employer.", **category
        }  # fmt: skip
        assert sent[2].form == {"caseid": "MGLSD000001", "status": "closed", **category}
        create_delivery = await delivery(client, created["messages"][0]["deliveries"][0])
        assert create_delivery["remote_ref"] == "MGLSD000001"
        assert create_delivery["idempotency_key"] == sent[0].headers["idempotency-key"]
        second_delivery = await delivery(client, second["messages"][0]["deliveries"][0])
        assert second_delivery["status"] == "delivered" and second_delivery["remote_ref"] == "MGLSD000001"


async def test_waiting_does_not_spend_the_budget_of_real_sends(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    ceemis.fail_with(503, times=2, when=lambda r: r.kind == "create")
    async with ceemis_app(max_attempts=3) as client:
        await post_case(client, new_case())
        update = await post_case(client, {"ref": "HL-1001", "status": "closed"})
        assert await settled(client.gateway) == {"delivered": 2}
        attempts = (await delivery(client, update["messages"][0]["deliveries"][0]))["attempts"]
        assert attempts[-1]["outcome"] == "delivered"
        assert (await case_status(client, "HL-1001"))["attempts"] == 3


async def test_the_case_status_reports_the_ceemis_id_by_every_reference(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app() as client:
        created = await post_case(client, new_case())
        await post_case(client, {"ref": "HL-1001", "status": "closed", "update_id": "u-1"})
        assert await settled(client.gateway) == {"delivered": 2}
        message_id = created["messages"][0]["id"]
        for reference in ("HL-1001", "CALL-HL-1001", message_id, "MGLSD000001"):
            status = await case_status(client, reference)
            assert status["reference"] == reference
            assert (status["state"], status["ceemis_id"], status["reason"]) == ("delivered", "MGLSD000001", None)
            assert (status["message_id"], status["src_uid"], status["src_callid"]) == (
                message_id,
                "HL-1001",
                "CALL-HL-1001",
            )
            [update] = status["updates"]
            assert (update["ref"], update["status"], update["state"]) == ("HL-1001", "closed", "delivered")


async def test_a_signed_in_user_may_read_a_case_status(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    from core.testing import user_headers

    async with ceemis_app() as client:
        await post_case(client, new_case())
        r = await client.get("/plugins/ceemis/cases/HL-1001", headers=await user_headers(client.gateway, "viewer"))
        assert r.status_code == 200 and r.json()["src_uid"] == "HL-1001"


async def test_a_case_not_yet_delivered_is_queued_with_the_last_error(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    ceemis.fail_with(503, times=None)
    async with ceemis_app() as client:
        await post_case(client, new_case())

        async def tried() -> bool:
            return bool(ceemis.requests)

        await run_until(client, tried)
        status = await case_status(client, "HL-1001")
        assert status["state"] == "queued" and status["ceemis_id"] is None
        assert "503" in status["reason"]


async def test_the_case_id_is_found_in_a_plain_text_answer(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    ceemis.answer_as_text = True
    async with ceemis_app() as client:
        created = await post_case(client, new_case())
        assert await settled(client.gateway) == {"delivered": 1}
        assert (await delivery(client, created["messages"][0]["deliveries"][0]))["remote_ref"] == "MGLSD000001"


async def test_field_errors_from_ceemis_make_the_delivery_dead_with_the_errors_readable(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app() as client:
        created = await post_case(client, new_case(clients_case=[{"fname": "No Phone"}]))
        update = await post_case(client, {"ref": "HL-1001", "status": "closed"})
        assert await settled(client.gateway) == {"dead": 2}
        assert len(ceemis.requests) == 1  # not retried, and the update never sent
        dead = await delivery(client, created["messages"][0]["deliveries"][0])
        assert dead["last_status_code"] == 400
        assert "mw_phone: This field is required." in dead["last_error"]
        assert dead["detail"]["errors"] == [{"field": "mw_phone", "message": "This field is required."}]
        status = await case_status(client, "HL-1001")
        assert status["state"] == "failed" and "mw_phone" in status["reason"]
        dead_update = await delivery(client, update["messages"][0]["deliveries"][0])
        assert "the case's create failed" in dead_update["last_error"]
        assert status["updates"][0]["state"] == "failed"


async def test_server_errors_are_retried_until_delivered(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    ceemis.fail_with(500, times=2)
    async with ceemis_app() as client:
        created = await post_case(client, new_case())
        assert await settled(client.gateway) == {"delivered": 1}
        found = await delivery(client, created["messages"][0]["deliveries"][0])
        assert [a["outcome"] for a in found["attempts"]] == ["retry", "retry", "delivered"]
        assert found["remote_ref"] == "MGLSD000001"
        assert len(ceemis.cases) == 1


async def test_server_errors_past_the_budget_of_sends_make_the_delivery_dead(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    ceemis.fail_with(502, times=None)
    async with ceemis_app(max_attempts=2) as client:
        created = await post_case(client, new_case())
        assert await settled(client.gateway) == {"dead": 1}
        found = await delivery(client, created["messages"][0]["deliveries"][0])
        assert [a["outcome"] for a in found["attempts"]] == ["retry", "dead"]
        assert "gave up after 2 sends" in found["last_error"]
        assert (await case_status(client, "HL-1001"))["state"] == "failed"


async def test_cases_of_two_callers_do_not_wait_on_each_other(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    ceemis.fail_with(503, times=None, when=lambda r: r.form.get("mw_name") == "Caller A")
    async with ceemis_app() as client:
        await post_case(client, new_case("HL-A", clients_case=[{"fname": "Caller A", "phone": "+256700000001"}]))
        await post_case(client, {"ref": "HL-A", "status": "closed"})
        await post_case(client, new_case("HL-B", clients_case=[{"fname": "Caller B", "phone": "+256700000002"}]))
        await post_case(client, {"ref": "HL-B", "status": "closed"})

        async def b_done() -> bool:
            updates = (await case_status(client, "HL-B"))["updates"]
            return updates[0]["state"] == "delivered"

        await run_until(client, b_done)
        assert (await case_status(client, "HL-B"))["state"] == "delivered"
        a = await case_status(client, "HL-A")
        assert a["state"] == "queued" and a["updates"][0]["state"] == "queued"
        assert [u["caseid"] for u in ceemis.updates] == ["MGLSD000001"]
        ceemis.heal()
        assert await settled(client.gateway) == {"delivered": 4}
        assert (await case_status(client, "HL-A"))["ceemis_id"] == "MGLSD000002"


async def test_an_update_naming_a_ceemis_id_goes_out_without_a_create(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    ceemis.cases["MGLSD000777"] = {}
    async with ceemis_app() as client:
        update = {"ref": "MGLSD000777", "status": "referred", "narrative": "Sent to labour office."}
        await post_case(client, {**update, "case_category": "Trafficking"})  # the gateway knows no case to fill it from
        assert await settled(client.gateway) == {"delivered": 1}
        assert ceemis.updates == [
            {"caseid": "MGLSD000777", "status": "referred", "mw_narative": "Sent to labour office.",
             "comp_category": "Trafficking"}
        ]  # fmt: skip
        status = await case_status(client, "MGLSD000777")
        assert status["created_elsewhere"] is True and status["updates"][0]["state"] == "delivered"


async def test_a_status_update_carries_the_category_ceemis_requires_from_its_case(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    async with ceemis_app() as client:
        await post_case(client, new_case())
        assert await settled(client.gateway) == {"delivered": 1}
        # The update the helpline documents: no case_category; CEEMIS refuses an update without one.
        await post_case(client, {"ref": "HL-1001", "status": "in_progress", "narrative": "Called.", "update_id": "1"})
        assert await settled(client.gateway) == {"delivered": 2}
        # An update that changes the category sends its own, and the next one carries the new one.
        await post_case(client, {"ref": "HL-1001", "status": "referred", "case_category": "Trafficking"})
        await post_case(client, {"ref": "HL-1001", "status": "closed", "update_id": "3"})
        assert await settled(client.gateway) == {"delivered": 4}
        assert [(u["status"], u["comp_category"]) for u in ceemis.updates] == [
            ("in_progress", "Labour exploitation"),
            ("referred", "Trafficking"),
            ("closed", "Trafficking"),
        ]
        assert [u["state"] for u in (await case_status(client, "HL-1001"))["updates"]] == ["delivered"] * 3


async def test_the_field_map_and_defaults_come_from_the_configuration(ceemis_app, ceemis) -> None:  # type: ignore[no-untyped-def]
    fields = {"clients_case.city": "mw_city", "src_address": "mw_loca", "perpetrators_case.sector": ""}
    defaults = {"emp_sector": "Unspecified", "mw_country": "Uganda", "status": "open"}
    async with ceemis_app(fields=fields, defaults=defaults, token_header="X-Api-Token", token="abc") as client:
        case = new_case()
        del case["clients_case"][0]["country"]
        await post_case(client, case)
        assert await settled(client.gateway) == {"dead": 1}  # the fake wants a bearer token
        [sent] = ceemis.requests
        assert sent.headers["x-api-token"] == "abc" and "authorization" not in sent.headers
        assert sent.form["mw_loca"] == "+256700100200"
        assert (sent.form["emp_sector"], sent.form["mw_country"], sent.form["status"]) == ("Unspecified", "Uganda", "open")
