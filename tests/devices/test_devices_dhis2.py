"""Readings routed to DHIS2: a tracker template turns a subject's readings into events of a program stage."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.devices.device_steps import reading, register, upload
from tests.fakes.dhis2 import FakeDHIS2, running_fake_dhis2
from tests.fakes.dhis2_metadata import BIRTH_STAGE, CHILD_PROGRAMME, NGELEHUN, TOKEN, WEIGHT
from tests.support.dhis2 import settled

# A weight reading becomes an event of the Child Programme's Birth stage. The event's uid is
# derived from the reading's external id (device and reading id), so whatever is sent again
# updates the same event. Program IpHINAT79UW (Child Programme), stage A03MvHHogjR (Birth),
# data element UXz7xuGCEhU (weight).
WEIGHT_EVENT = """{"events": [{
    "event": {{ message.external_id | dhis2_uid | tojson }},
    "program": "IpHINAT79UW", "programStage": "A03MvHHogjR",
    "orgUnit": {{ message.extra.facility | tojson }},
    "occurredAt": {{ message.extra.measured_at[:10] | tojson }},
    "dataValues": [{"dataElement": "UXz7xuGCEhU", "value": {{ message.extra.value | round(2) | tojson }}}]
}]}"""


@pytest.fixture
async def dhis2() -> AsyncIterator[FakeDHIS2]:
    async with running_fake_dhis2() as fake:
        yield fake


def dhis2_sections(fake: FakeDHIS2) -> dict:  # type: ignore[type-arg]
    return {
        "routes": [{"source": "devices", "destinations": ["dhis2:national"], "kinds": ["reading"]}],
        "plugins": {
            "dhis2": {
                "instances": {"national": {"base_url": fake.url, "token": TOKEN}},
                "templates": {
                    # No "kinds" here: core.KINDS does not list "reading" yet; the route picks the kind.
                    "weights": {"source": "devices", "type": "tracker", "body": WEIGHT_EVENT}
                },
            }
        },
        "delivery": {"backoff_base": 0.1, "jitter": 0},
    }


async def test_a_subjects_readings_become_tracker_events_once(app_client, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with app_client(**dhis2_sections(dhis2)) as client:
        _, key = await register(client, type="scale", subject="CHILD-1", facility=NGELEHUN)
        batch = [reading("w-1", "weight", 3.2, "kg"), reading("w-2", "weight", 8.2, "lb")]
        assert (await upload(client, key, batch))["accepted"] == 2
        assert await settled(client.gateway) == {"delivered": 2}
        events = [e for sent in dhis2.posted("/tracker") for e in sent.json()["events"]]
        assert sorted(e["dataValues"][0]["value"] for e in events) == [3.2, 3.72]
        assert {e["orgUnit"] for e in events} == {NGELEHUN} and {e["programStage"] for e in events} == {BIRTH_STAGE}
        assert {e["program"] for e in events} == {CHILD_PROGRAMME}
        assert {e["dataValues"][0]["dataElement"] for e in events} == {WEIGHT}
        assert all(e["event"] in dhis2.tracked for e in events)

        assert (await upload(client, key, batch))["duplicates"] == 2  # the device retries
        assert await settled(client.gateway) == {"delivered": 2}
        assert len(dhis2.posted("/tracker")) == 2
