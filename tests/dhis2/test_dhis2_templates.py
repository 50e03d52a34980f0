"""Routed messages from other platforms become tracker events or data values through templates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core import ConfigError, StandardMessage
from core.testing import delivery, user_headers
from tests.fakes.dhis2_metadata import ANC_1ST, DEFAULT_COC, FIXED, NGELEHUN, WEIGHT
from tests.support.dhis2 import import_mappings, settled
from tests.support.mapping_files import csv_bytes, upload

ROUTES = [
    {"source": "webform", "destinations": ["dhis2:national"], "kinds": ["form"]},
    {"source": "scale", "destinations": ["dhis2:national"]},
]
# Program IpHINAT79UW (Child Programme), stage A03MvHHogjR (Birth), data element UXz7xuGCEhU (weight).
BIRTH_WEIGHT = """{"events": [{
    "event": {{ message.id | dhis2_uid | tojson }},
    "program": "IpHINAT79UW", "programStage": "A03MvHHogjR",
    "orgUnit": {{ message.extra.facility | tojson }},
    "occurredAt": {{ message.timestamp[:10] | tojson }},
    "dataValues": [{"dataElement": "UXz7xuGCEhU", "value": {{ message.extra.weight | tojson }}}]
}]}"""
MONTHLY_COUNTS = (
    '{"orgUnit": {{ message.extra.site | tojson }},'
    ' "period": {{ message.timestamp | dhis2_period("Monthly") | tojson }},'
    ' "dataSet": "pBOMPrpg1QX", "dataValues": {{ message.extra.counts | tojson }}}'
)
TEMPLATES = {
    "birth-weight": {"source": "webform", "kinds": ["form"], "type": "tracker", "body": BIRTH_WEIGHT},
    "anc-counts": {"source": "scale", "type": "aggregate", "body": MONTHLY_COUNTS},
}


def form(external_id: str = "form-1", **extra) -> StandardMessage:  # type: ignore[no-untyped-def]
    return StandardMessage(
        platform="webform",
        external_id=external_id,
        kind="form",
        sender="+23276000001",
        timestamp=datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
        extra={"facility": "FAC-001", "weight": "3.1", **extra},
    )


async def map_facility(client) -> None:  # type: ignore[no-untyped-def]
    headers = await user_headers(client.gateway, "operator")
    data = csv_bytes([["FAC-001", NGELEHUN]], header=["code", "org_unit"])
    r = await client.post("/plugins/dhis2/orgunit-mappings/import", files=upload(data), headers=headers)
    assert r.status_code == 200, r.text


async def test_a_routed_form_becomes_a_tracker_event(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(routes=ROUTES, templates=TEMPLATES) as client:
        await map_facility(client)
        [stored] = await client.gateway.submit([form()])
        assert stored.destinations == ["dhis2:national"]
        assert await settled(client.gateway) == {"delivered": 1}
        [sent] = dhis2.posted("/tracker")
        [event] = sent.json()["events"]
        assert event["orgUnit"] == NGELEHUN and event["occurredAt"] == "2024-05-01"
        assert event["dataValues"] == [{"dataElement": WEIGHT, "value": "3.1"}]
        assert event["event"] in dhis2.tracked
        detail = (await delivery(client.gateway, str(stored.delivery_ids[0]))).detail
        assert detail["type"] == "tracker" and detail["status"] == "OK"


async def test_a_routed_reading_becomes_mapped_data_values_for_its_month(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    reading = StandardMessage(
        platform="scale",
        external_id="reading-7",
        kind="data",
        timestamp=datetime(2024, 3, 31, 23, 0, tzinfo=UTC),
        extra={"site": NGELEHUN, "counts": {"ANC1_FIXED": 4, "ANC3": 1}},
    )
    async with dhis2_app(routes=ROUTES, templates=TEMPLATES) as client:
        await import_mappings(client)
        await client.gateway.submit([reading])
        assert await settled(client.gateway) == {"delivered": 1}
        [sent] = dhis2.posted("/dataValueSets")
        assert sent.json()["period"] == "202403"
        assert dhis2.values[(ANC_1ST, "202403", NGELEHUN, FIXED, DEFAULT_COC)] == "4"


async def test_retrying_a_routed_message_names_the_same_event_again(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(routes=ROUTES, templates=TEMPLATES) as client:
        await map_facility(client)
        dhis2.fail_with(502, times=1, path="/tracker")
        await client.gateway.submit([form()])
        assert await settled(client.gateway) == {"delivered": 1}
        first, second = dhis2.posted("/tracker")
        assert first.json() == second.json()


async def test_a_message_no_template_handles_is_dead_with_the_reason(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(routes=ROUTES, templates=TEMPLATES) as client:
        text = StandardMessage(platform="webform", external_id="t-1", kind="text", sender="+1", text="hello")
        # No route sends it (the route check refuses one that would): submitted to the instance directly.
        [stored] = await client.gateway.submit([text], destinations=["dhis2:national"])
        assert await settled(client.gateway) == {"dead": 1}
        row = await delivery(client.gateway, str(stored.delivery_ids[0]))
        assert "no [plugins.dhis2.templates] entry" in row.last_error and "'text'" in row.last_error


async def test_a_template_that_does_not_make_json_is_dead_with_what_it_made(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    broken = {"bad": {"source": "webform", "type": "tracker", "body": "{{ message.extra.weight }} kg"}}
    async with dhis2_app(routes=ROUTES[:1], templates=broken) as client:
        [stored] = await client.gateway.submit([form()])
        assert await settled(client.gateway) == {"dead": 1}
        row = await delivery(client.gateway, str(stored.delivery_ids[0]))
        assert "did not produce JSON" in row.last_error and row.detail["rendered"] == "3.1 kg"


async def test_a_template_missing_a_field_of_the_message_is_dead(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(routes=ROUTES, templates=TEMPLATES) as client:
        message = form()
        del message.extra["facility"]
        [stored] = await client.gateway.submit([message])
        assert await settled(client.gateway) == {"dead": 1}
        row = await delivery(client.gateway, str(stored.delivery_ids[0]))
        assert "cannot render this message" in row.last_error and "facility" in row.last_error


async def test_rendered_data_with_unmapped_codes_is_dead_with_the_codes(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    reading = StandardMessage(
        platform="scale", external_id="r-9", kind="data", extra={"site": NGELEHUN, "counts": {"MALARIA": 2}}
    )
    async with dhis2_app(routes=ROUTES, templates=TEMPLATES) as client:
        [stored] = await client.gateway.submit([reading])
        assert await settled(client.gateway) == {"dead": 1}
        row = await delivery(client.gateway, str(stored.delivery_ids[0]))
        assert row.detail["errors"][0]["code"] == "MALARIA" and row.detail["template"] == "anc-counts"


async def test_start_up_refuses_a_route_no_template_of_the_instance_takes(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    routes = [{"source": "webform", "destinations": ["dhis2:national"], "kinds": ["form", "text"]}]
    with pytest.raises(ConfigError, match="the destination 'dhis2:national' cannot take 'text' messages of 'webform'"):
        async with dhis2_app(routes=routes, templates=TEMPLATES):
            pass
    # Without kinds the route would send every kind, and the webform template takes forms only.
    with pytest.raises(ConfigError, match="cannot take every message of 'webform': give the route kinds"):
        async with dhis2_app(routes=[{"source": "webform", "destinations": ["dhis2:national"]}], templates=TEMPLATES):
            pass
    with pytest.raises(ConfigError, match="cannot take messages of 'whatsapp'"):
        async with dhis2_app(routes=[{"source": "whatsapp", "destinations": ["dhis2:national"]}], templates=TEMPLATES):
            pass
