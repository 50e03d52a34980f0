"""Fixing a mapping and requeueing: each attempt maps the submission with the mappings as they are then."""

from __future__ import annotations

from core.testing import attempts, delivery, user_headers
from tests.fakes.dhis2_metadata import ANC_1ST, ANC_3RD, DATA_SET, DEFAULT_COC, NGELEHUN
from tests.support.dhis2 import import_mappings, settled

WRONG_ELEMENT = "Xq1ZZZZZZZZ"


def mapping(element: str) -> list[list[str]]:
    return [["ANC3", "de", "ANC 3rd visit", "", DATA_SET, element, "", "", "", "national", "hmis"]]


async def test_a_dead_submission_is_delivered_after_its_mapping_is_fixed_and_it_is_requeued(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        operator = await user_headers(client.gateway, "operator")
        await import_mappings(client, mapping(WRONG_ELEMENT))
        body = {"orgUnit": NGELEHUN, "period": "202401", "dataSet": DATA_SET, "dataValues": {"ANC3": 7}}
        r = await client.post("/plugins/dhis2/aggregate", json=body, headers=operator)
        assert r.status_code == 202, r.text
        delivery_id = r.json()["delivery_id"]
        assert await settled(client.gateway) == {"dead": 1}
        dead = await delivery(client.gateway, delivery_id)
        assert dead.last_status_code == 409 and dead.detail["conflicts"][0]["object"] == WRONG_ELEMENT

        await import_mappings(client, mapping(ANC_3RD))
        r = await client.post(f"/api/deliveries/{delivery_id}/requeue", headers=operator)
        assert r.status_code == 200, r.text
        assert await settled(client.gateway) == {"delivered": 1}

        assert dhis2.values[(ANC_3RD, "202401", NGELEHUN, DEFAULT_COC, DEFAULT_COC)] == "7"
        first, second = await attempts(client.gateway, delivery_id)
        assert first.detail["sent"]["dataValues"] == [{"code": "ANC3", "dataElement": WRONG_ELEMENT, "value": "7"}]
        assert second.detail["sent"]["dataValues"] == [{"code": "ANC3", "dataElement": ANC_3RD, "value": "7"}]


async def test_a_requeue_sends_every_chunk_again_not_resuming_the_spent_budget(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    # Chunk 1 is refused for its wrong element (WARNING), chunk 2 fails twice (503) until the
    # budget is spent: the dead delivery's detail holds that progress. After the mapping is
    # fixed, the requeue's new budget starts over rather than resuming with chunk 1's WARNING.
    anc1 = ["ANC1", "de", "ANC 1st visit", "", DATA_SET, ANC_1ST, "", "", "", "national", "hmis"]
    async with dhis2_app(chunk_size=1, instance={"max_attempts": 2}) as client:
        operator = await user_headers(client.gateway, "operator")
        await import_mappings(client, [*mapping(WRONG_ELEMENT), anc1])
        dhis2.fail_with(503, times=2, path="/dataValueSets", after=1)
        body = {"orgUnit": NGELEHUN, "period": "202401", "dataSet": DATA_SET, "dataValues": {"ANC3": 7, "ANC1": 3}}
        r = await client.post("/plugins/dhis2/aggregate", json=body, headers=operator)
        assert r.status_code == 202, r.text
        delivery_id = r.json()["delivery_id"]
        assert await settled(client.gateway) == {"dead": 1}
        assert (await delivery(client.gateway, delivery_id)).detail["progress"]["status"] == "WARNING"

        await import_mappings(client, [*mapping(ANC_3RD), anc1])
        r = await client.post(f"/api/deliveries/{delivery_id}/requeue", headers=operator)
        assert r.status_code == 200, r.text
        assert await settled(client.gateway) == {"delivered": 1}
        assert dhis2.values[(ANC_3RD, "202401", NGELEHUN, DEFAULT_COC, DEFAULT_COC)] == "7"
        assert dhis2.values[(ANC_1ST, "202401", NGELEHUN, DEFAULT_COC, DEFAULT_COC)] == "3"
