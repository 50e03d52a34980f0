"""POST /plugins/dhis2/aggregate: dhis2gw and native bodies become the right dataValueSet at DHIS2."""

from __future__ import annotations

import pytest

from core.testing import api_key_headers, delivery, user_headers
from tests.fakes.dhis2_metadata import (
    ANC_1ST,
    ANC_2ND,
    ANC_3RD,
    BO,
    DATA_SET,
    DEFAULT_COC,
    FIXED,
    NGELEHUN,
    OUTREACH,
    TOKEN,
)
from tests.support.dhis2 import import_mappings, settled

AGGREGATE = "/plugins/dhis2/aggregate"


def dhis2gw_body(**changes):  # type: ignore[no-untyped-def]
    body = {
        "orgUnit": NGELEHUN,
        "orgUnitName": "Ngelehun CHC",
        "period": "202401",
        "dataSet": DATA_SET,
        "dataValues": {"ANC1_FIXED": 12, "ANC1_OUTREACH": "3", "ANC3": 7.0},
    }
    return body | changes


async def test_dhis2gw_request_becomes_the_right_data_value_set_at_dhis2(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        await import_mappings(client)
        headers = await api_key_headers(client.gateway, ["dhis2:aggregate"])
        r = await client.post(AGGREGATE, json=dhis2gw_body(), headers=headers)
        assert r.status_code == 202, r.text
        answer = r.json()
        expected = {
            "dataSet": DATA_SET,
            "period": "202401",
            "orgUnit": NGELEHUN,
            "dataValues": [
                {"dataElement": ANC_1ST, "categoryOptionCombo": FIXED, "value": "12"},
                {"dataElement": ANC_1ST, "categoryOptionCombo": OUTREACH, "value": "3"},
                {"dataElement": ANC_3RD, "value": "7"},
            ],
        }
        assert answer["dataValueSet"] == expected
        assert answer["destination"] == "dhis2:national" and answer["values"] == 3 and answer["chunks"] == 1
        assert answer["message_id"] and answer["delivery_id"]
        assert await settled(client.gateway) == {"delivered": 1}
        [sent] = dhis2.posted("/dataValueSets")
        assert sent.json() == expected
        assert sent.headers["authorization"] == f"ApiToken {TOKEN}"
        assert sent.params == {"importStrategy": "CREATE_AND_UPDATE", "dryRun": "false"}
        assert dhis2.values[(ANC_1ST, "202401", NGELEHUN, OUTREACH, DEFAULT_COC)] == "3"
        assert dhis2.values[(ANC_3RD, "202401", NGELEHUN, DEFAULT_COC, DEFAULT_COC)] == "7"


async def test_native_data_value_set_is_sent_as_given(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    body = {
        "dataSet": DATA_SET,
        "completeDate": "2024-02-05",
        "period": "2024W5",
        "orgUnit": BO,
        "dataValues": [
            {"dataElement": ANC_2ND, "categoryOptionCombo": FIXED, "value": 4, "comment": "late"},
            {"dataElement": ANC_1ST, "period": "2024W6", "orgUnit": NGELEHUN, "value": "9"},
        ],
    }
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(AGGREGATE, json=body, headers=headers)
        assert r.status_code == 202, r.text
        sent_set = r.json()["dataValueSet"]
        assert sent_set["dataValues"][0] == {
            "dataElement": ANC_2ND,
            "categoryOptionCombo": FIXED,
            "value": "4",
            "comment": "late",
        }
        assert await settled(client.gateway) == {"delivered": 1}
        assert dhis2.posted("/dataValueSets")[0].json() == sent_set
        assert dhis2.values[(ANC_1ST, "2024W6", NGELEHUN, DEFAULT_COC, DEFAULT_COC)] == "9"


async def test_codes_in_a_native_body_are_mapped(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    body = {"period": "202403", "orgUnit": NGELEHUN, "dataValues": [{"dataElement": "ANC2_FIXED", "value": "5"}]}
    async with dhis2_app() as client:
        await import_mappings(client)
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(AGGREGATE, json=body, headers=headers)
        assert r.status_code == 202, r.text
        assert r.json()["dataValueSet"]["dataValues"] == [
            {"dataElement": ANC_2ND, "categoryOptionCombo": FIXED, "value": "5"}
        ]


async def test_org_unit_codes_are_mapped_with_org_unit_mappings(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    from tests.support.mapping_files import csv_bytes, upload

    async with dhis2_app() as client:
        await import_mappings(client)
        headers = await user_headers(client.gateway, "operator")
        units = csv_bytes([["FAC-001", NGELEHUN]], header=["code", "org_unit"])
        await client.post("/plugins/dhis2/orgunit-mappings/import", files=upload(units), headers=headers)
        r = await client.post(AGGREGATE, json=dhis2gw_body(orgUnit="FAC-001"), headers=headers)
        assert r.status_code == 202, r.text
        assert r.json()["dataValueSet"]["orgUnit"] == NGELEHUN
        unknown = await client.post(AGGREGATE, json=dhis2gw_body(orgUnit="FAC-999"), headers=headers)
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["field"] == "orgUnit"


@pytest.mark.parametrize(
    "period",
    [
        "2024",
        "2024S1",
        "2024AprilS2",
        "2024NovS1",
        "2024Q3",
        "2024NovQ1",
        "202406B",
        "202412",
        "2020W53",
        "2024WedW5",
        "2024ThuW5",
        "2024SatW5",
        "2024SunW52",
        "2024BiW26",
        "20240229",
        "2024April",
        "2024July",
        "2024Sep",
        "2024Oct",
        "2024Nov",
    ],
)
async def test_every_dhis2_period_type_is_accepted(dhis2_app, period) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        await import_mappings(client)
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(AGGREGATE, json=dhis2gw_body(period=period), headers=headers)
        assert r.status_code == 202, r.text


async def test_invalid_fields_are_reported_by_name_and_nothing_is_stored(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    body = dhis2gw_body(period="2021W53", dataSet="pBOMPrpg1Q", orgUnit=None, completeDate="2024-02-30")
    body["dataValues"] = {"ANC1_FIXED": {"nested": 1}}
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(AGGREGATE, json=body, headers=headers)
        assert r.status_code == 422
        fields = {e["field"]: e["message"] for e in r.json()["errors"]}
        assert set(fields) == {"period", "dataSet", "orgUnit", "completeDate", "dataValues.ANC1_FIXED"}
        assert "not a DHIS2 period" in fields["period"]
        assert "not a DHIS2 uid" in fields["dataSet"]
        assert await settled(client.gateway) == {}


async def test_native_values_are_checked_one_by_one(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    body = {
        "dataValues": [
            {"dataElement": ANC_1ST, "period": "202401", "orgUnit": NGELEHUN, "value": "1"},
            {"dataElement": ANC_1ST, "period": "2024-01", "orgUnit": NGELEHUN, "value": "1"},
            {"dataElement": ANC_1ST, "period": "202401", "categoryOptionCombo": "bad", "value": None},
            "not an object",
        ]
    }
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(AGGREGATE, json=body, headers=headers)
        assert r.status_code == 422
        assert {e["field"] for e in r.json()["errors"]} == {
            "dataValues[1].period",
            "dataValues[2].categoryOptionCombo",
            "dataValues[2].orgUnit",
            "dataValues[2].value",
            "dataValues[3]",
        }


async def test_unmapped_codes_are_rejected_by_default(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        await import_mappings(client)
        headers = await user_headers(client.gateway, "operator")
        body = dhis2gw_body(dataValues={"ANC1_FIXED": 1, "MALARIA": 2, "TB": 3})
        r = await client.post(AGGREGATE, json=body, headers=headers)
        assert r.status_code == 422
        assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [
            ("dataValues.MALARIA", "MALARIA"),
            ("dataValues.TB", "TB"),
        ]
        assert await settled(client.gateway) == {}


async def test_unmapped_codes_are_skipped_and_listed_when_configured(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(unmapped="skip") as client:
        await import_mappings(client)
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(AGGREGATE, json=dhis2gw_body(dataValues={"ANC1_FIXED": 1, "TB": 3}), headers=headers)
        assert r.status_code == 202, r.text
        assert [u["code"] for u in r.json()["unmapped"]] == ["TB"]
        assert len(r.json()["dataValueSet"]["dataValues"]) == 1
        nothing = await client.post(AGGREGATE, json=dhis2gw_body(dataValues={"TB": 3}), headers=headers)
        assert nothing.status_code == 422 and "nothing to send" in nothing.json()["error"]


async def test_two_codes_landing_on_the_same_dhis2_value_are_refused(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    body = {
        "period": "202401",
        "orgUnit": NGELEHUN,
        "dataValues": [
            {"dataElement": "ANC1_FIXED", "value": "1"},
            {"dataElement": ANC_1ST, "categoryOptionCombo": FIXED, "value": "2"},
        ],
    }
    async with dhis2_app() as client:
        await import_mappings(client)
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(AGGREGATE, json=body, headers=headers)
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "dataValues[1]"
        assert "dataValues[0]" in r.json()["errors"][0]["message"]


async def test_malformed_json_is_a_bad_request(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(
            AGGREGATE, content=b'{"orgUnit": ', headers={**headers, "content-type": "application/json"}
        )
        assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
        listed = await client.post(AGGREGATE, json=[1, 2], headers=headers)
        assert listed.status_code == 422


async def test_submitting_needs_the_aggregate_scope_or_the_operator_role(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        await import_mappings(client)
        tracker_key = await api_key_headers(client.gateway, ["dhis2:tracker"])
        viewer = await user_headers(client.gateway, "viewer")
        assert (await client.post(AGGREGATE, json=dhis2gw_body(), headers=tracker_key)).status_code == 403
        assert (await client.post(AGGREGATE, json=dhis2gw_body(), headers=viewer)).status_code == 403
        assert (await client.post(AGGREGATE, json=dhis2gw_body())).status_code == 401


async def test_a_repeated_idempotency_key_returns_the_first_submission(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        await import_mappings(client)
        headers = {**await api_key_headers(client.gateway, ["dhis2:aggregate"]), "Idempotency-Key": "report-2024-01"}
        first = await client.post(AGGREGATE, json=dhis2gw_body(), headers=headers)
        again = await client.post(AGGREGATE, json=dhis2gw_body(), headers=headers)
        assert first.status_code == 202 and again.status_code == 200
        assert again.json() == {"message_id": first.json()["message_id"], "duplicate": True}
        assert await settled(client.gateway) == {"delivered": 1}
        assert len(dhis2.posted("/dataValueSets")) == 1


async def test_the_instance_is_chosen_by_name_or_by_default(app_client, dhis2) -> None:  # type: ignore[no-untyped-def]
    instances = {
        "national": {"base_url": dhis2.url, "token": TOKEN},
        "district": {"base_url": dhis2.url + "/district", "username": "admin", "password": "district"},
    }
    async with app_client(plugins={"dhis2": {"instances": instances}}) as client:
        headers = await user_headers(client.gateway, "operator")
        body = {"period": "202401", "orgUnit": NGELEHUN, "dataValues": [{"dataElement": ANC_1ST, "value": "1"}]}
        unnamed = await client.post(AGGREGATE, json=body, headers=headers)
        assert unnamed.status_code == 422 and unnamed.json()["errors"][0]["field"] == "instance"
        named = await client.post(AGGREGATE, params={"instance": "national"}, json=body, headers=headers)
        assert named.status_code == 202 and named.json()["destination"] == "dhis2:national"
        unknown = await client.post(AGGREGATE, params={"instance": "nowhere"}, json=body, headers=headers)
        assert unknown.status_code == 422
    async with app_client(plugins={"dhis2": {"instances": instances, "default_instance": "district"}}) as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(AGGREGATE, json=body, headers=headers)
        assert r.json()["destination"] == "dhis2:district"


async def test_without_a_configured_instance_submissions_are_unavailable(client) -> None:  # type: ignore[no-untyped-def]
    headers = await user_headers(client.gateway, "operator")
    r = await client.post(AGGREGATE, json=dhis2gw_body(), headers=headers)
    assert r.status_code == 503 and "no DHIS2 instance" in r.json()["error"]


async def test_the_submission_is_kept_with_its_source_codes(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        await import_mappings(client)
        headers = await user_headers(client.gateway, "operator", username="clerk")
        r = await client.post(AGGREGATE, json=dhis2gw_body(), headers=headers)
        row = await delivery(client.gateway, r.json()["delivery_id"])
        assert row.destination == "dhis2:national" and row.options == {"dhis2": "aggregate"}
