"""dhis2gw's ``mapping_scheme``: values keyed by data-element uid; and no submission is dropped silently."""

from __future__ import annotations

import base64
from typing import Any

from core.auth.users import create_user, insert_user
from core.testing import api_key_headers, delivery
from tests.console.conftest import PASSWORD, log_in
from tests.fakes.dhis2_metadata import ANC_1ST, ANC_2ND, ANC_3RD, DATA_SET, FIXED, NGELEHUN
from tests.support.dhis2 import import_mappings, settled
from tests.support.mapping_files import ROWS

AGGREGATE = "/plugins/dhis2/aggregate"
COMPAT = "/api/v2"
UNKNOWN_UID = "FTRrcoaog83"  # a uid no mapping names
# dhis2gw's API maps with the rows whose instance_name and source_name are "default", only.
DHIS2GW_ROWS = [[*row[:9], "default", "default"] for row in ROWS]


def body(values: dict[str, Any]) -> dict[str, Any]:
    return {"orgUnit": NGELEHUN, "period": "202401", "dataSet": DATA_SET, "dataValues": values}


async def basic(gateway: Any) -> dict[str, str]:
    await insert_user(gateway, "clerk", "operator", await gateway.auth.passwords.hash("correct horse battery"))
    return {"Authorization": "Basic " + base64.b64encode(b"clerk:correct horse battery").decode()}


async def test_values_keyed_by_data_element_uid_are_sent_with_their_mapping(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(instance={"mapping_scheme": "uid"}) as client:
        await import_mappings(client)
        headers = await api_key_headers(client.gateway, ["dhis2:aggregate"])
        r = await client.post(AGGREGATE, json=body({ANC_2ND: 4, ANC_3RD: "2"}), headers=headers)
        assert r.status_code == 202, r.text
        expected = [
            {"dataElement": ANC_2ND, "categoryOptionCombo": FIXED, "value": "4"},
            {"dataElement": ANC_3RD, "value": "2"},
        ]
        assert r.json()["dataValueSet"]["dataValues"] == expected
        assert await settled(client.gateway) == {"delivered": 1}
        [sent] = dhis2.posted("/dataValueSets")
        assert sent.json()["dataValues"] == expected


async def test_under_the_uid_scheme_an_unmapped_or_ambiguous_uid_is_a_422_naming_it(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(instance={"mapping_scheme": "UID"}) as client:  # dhis2gw writes it in capitals
        await import_mappings(client)
        headers = await api_key_headers(client.gateway, ["dhis2:aggregate"])
        r = await client.post(AGGREGATE, json=body({UNKNOWN_UID: 3}), headers=headers)
        assert r.status_code == 422, r.text
        assert UNKNOWN_UID in r.json()["error"]
        assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [(f"dataValues.{UNKNOWN_UID}", UNKNOWN_UID)]
        # ANC 1st visit is mapped twice (fixed, outreach): a value keyed by its uid cannot say which.
        r = await client.post(AGGREGATE, json=body({ANC_1ST: 3}), headers=headers)
        assert r.status_code == 422, r.text
        [problem] = r.json()["errors"]
        assert problem["field"] == f"dataValues.{ANC_1ST}" and "option combos" in problem["message"]
        assert await settled(client.gateway) == {}


async def test_the_compat_api_maps_by_data_element_under_its_mapping_scheme(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(compat={"enabled": True, "mapping_scheme": "UID"}) as client:
        await import_mappings(client, DHIS2GW_ROWS)
        headers = await basic(client.gateway)
        r = await client.post(f"{COMPAT}/aggregate", json=body({ANC_2ND: 4}), headers=headers)
        assert r.status_code == 200, r.text
        sent_values = [{"dataElement": ANC_2ND, "categoryOptionCombo": FIXED, "value": "4"}]
        assert r.json()["payload"]["dataValues"] == sent_values
        assert await settled(client.gateway) == {"delivered": 1}
        [sent] = dhis2.posted("/dataValueSets")
        assert sent.json()["dataValues"] == r.json()["payload"]["dataValues"]


async def test_a_compat_submission_nothing_maps_answers_like_dhis2gw_but_fails_visibly(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(compat={"enabled": True}) as client:
        await import_mappings(client, DHIS2GW_ROWS)
        headers = await basic(client.gateway)
        r = await client.post(f"{COMPAT}/aggregate", json=body({UNKNOWN_UID: 3}), headers=headers)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["payload"]["dataValues"] == [] and answer["task_id"]
        log = (await client.get(f"{COMPAT}/logs/{answer['submission_id']}", headers=headers)).json()
        assert UNKNOWN_UID in log["errors"]
        assert await settled(client.gateway) == {"dead": 1}
        log = (await client.get(f"{COMPAT}/logs/{answer['submission_id']}", headers=headers)).json()
        assert log["status"] == "failed" and UNKNOWN_UID in log["errors"]
        dead = await delivery(client.gateway, answer["task_id"])
        assert UNKNOWN_UID in dead.last_error and "nothing to send" in dead.last_error
        assert dhis2.posted("/dataValueSets") == []
        # …and in the console, on the delivery's page.
        await create_user(client.gateway, "viewer", PASSWORD, "viewer")
        await log_in(client, "viewer")
        page = await client.get(f"/admin/deliveries/{answer['task_id']}")
        assert page.status_code == 200 and "dead" in page.text and UNKNOWN_UID in page.text


async def test_a_compat_submission_partly_mapped_sends_what_maps_and_logs_what_was_left_out(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(compat={"enabled": True}) as client:
        await import_mappings(client, DHIS2GW_ROWS)
        headers = await basic(client.gateway)
        r = await client.post(f"{COMPAT}/aggregate", json=body({"ANC3": 7, "MALARIA": 2}), headers=headers)
        assert r.status_code == 200, r.text
        assert [v["dataElement"] for v in r.json()["payload"]["dataValues"]] == [ANC_3RD]
        assert await settled(client.gateway) == {"delivered": 1}
        log = (await client.get(f"{COMPAT}/logs/{r.json()['submission_id']}", headers=headers)).json()
        assert log["status"] in ("OK", "SUCCESS")
        assert "dataValues.MALARIA" in log["errors"] and "ANC3" not in log["errors"]
