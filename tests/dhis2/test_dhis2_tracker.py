"""POST /plugins/dhis2/tracker: payloads round-trip synchronously and as polled jobs; reports are kept."""

from __future__ import annotations

from core.testing import api_key_headers, attempts, delivery, user_headers
from tests.fakes.dhis2_metadata import BIRTH_STAGE, CHILD_PROGRAMME, NGELEHUN, PERSON, WEIGHT
from tests.support.dhis2 import first_attempt, settled
from tests.support.mapping_files import csv_bytes, upload

TRACKER = "/plugins/dhis2/tracker"
EVENT_UID = "ZwwuwNp6gVd"


def nested_payload(org_unit: str = NGELEHUN):  # type: ignore[no-untyped-def]
    return {
        "trackedEntities": [
            {
                "trackedEntityType": PERSON,
                "orgUnit": org_unit,
                "enrollments": [
                    {
                        "program": CHILD_PROGRAMME,
                        "orgUnit": org_unit,
                        "enrolledAt": "2024-05-01",
                        "occurredAt": "2024-05-01",
                        "events": [
                            {
                                "event": EVENT_UID,
                                "program": CHILD_PROGRAMME,
                                "programStage": BIRTH_STAGE,
                                "orgUnit": org_unit,
                                "occurredAt": "2024-05-01",
                                "dataValues": [{"dataElement": WEIGHT, "value": "3.2"}],
                            }
                        ],
                    }
                ],
            }
        ]
    }


def flat_event(**changes):  # type: ignore[no-untyped-def]
    event = {
        "program": CHILD_PROGRAMME,
        "programStage": BIRTH_STAGE,
        "orgUnit": NGELEHUN,
        "occurredAt": "2024-05-01",
        "dataValues": [{"dataElement": WEIGHT, "value": "3.4"}],
    }
    return {"events": [event | changes]}


async def submit(client, body, **params):  # type: ignore[no-untyped-def]
    headers = await api_key_headers(client.gateway, ["dhis2:tracker"])
    r = await client.post(TRACKER, json=body, params=params, headers=headers)
    assert r.status_code == 202, r.text
    return r.json()


async def test_a_nested_payload_round_trips_synchronously(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        answer = await submit(client, nested_payload(), **{"async": "false"})
        assert answer["async"] is False and answer["nested"] is True
        assert answer["counts"] == {"trackedEntities": 1, "enrollments": 1, "events": 1, "relationships": 0}
        assert answer["uids_assigned"] == 2  # the tracked entity and the enrollment had none
        assert await settled(client.gateway) == {"delivered": 1}
        [sent] = dhis2.posted("/tracker")
        assert sent.json() == answer["payload"]
        assert sent.params == {
            "async": "false",
            "importStrategy": "CREATE_AND_UPDATE",
            "atomicMode": "ALL",
            "reportMode": "ERRORS",
        }
        row = await delivery(client.gateway, answer["delivery_id"])
        assert row.detail["status"] == "OK" and row.detail["stats"]["created"] == 3
        assert row.detail["report"]["validationReport"] == {"errorReports": [], "warningReports": []}
        assert EVENT_UID in dhis2.tracked


async def test_an_asynchronous_import_is_polled_and_its_report_kept(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    dhis2.job_polls = 3
    async with dhis2_app(instance={"tracker": {"async_import": True, "poll_interval": 0.01}}) as client:
        answer = await submit(client, flat_event())
        assert answer["async"] is True
        assert await settled(client.gateway) == {"delivered": 1}
        row = await delivery(client.gateway, answer["delivery_id"])
        job = row.remote_ref
        assert job and row.detail["job"] == job and row.detail["job_state"] == "done"
        assert row.detail["report"]["stats"]["created"] == 1
        polls = [r for r in dhis2.requests if r.path.endswith(f"/tracker/jobs/{job}")]
        assert len(polls) == 3
        assert dhis2.requests[-1].path.endswith(f"/tracker/jobs/{job}/report")


async def test_a_job_still_running_is_polled_again_by_the_next_attempt_not_resubmitted(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    dhis2.job_polls = 6
    tracker = {"async_import": True, "poll_interval": 0.01, "poll_timeout": 0.02}
    async with dhis2_app(instance={"tracker": tracker}) as client:
        answer = await submit(client, flat_event())
        assert await settled(client.gateway) == {"delivered": 1}
        assert len(dhis2.posted("/tracker")) == 1
        tries = await attempts(client.gateway, answer["delivery_id"])
        assert tries[0].outcome == "retry" and tries[0].detail["job_state"] == "running"
        assert tries[-1].outcome == "delivered"
        assert {t.detail["job"] for t in tries} == {tries[0].detail["job"]}


async def test_a_job_lost_by_a_restart_is_submitted_again_without_duplicates(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    dhis2.job_polls = 1000
    tracker = {"async_import": True, "poll_interval": 0.01, "poll_timeout": 0.02}
    async with dhis2_app(instance={"tracker": tracker}) as client:
        answer = await submit(client, flat_event())
        assert (await first_attempt(client.gateway, answer["delivery_id"])).outcome == "retry"
        dhis2.forget_jobs()  # DHIS2 restarted; the job imported its event already
        dhis2.job_polls = 1
        assert await settled(client.gateway) == {"delivered": 1}
        posts = dhis2.posted("/tracker")
        assert len(posts) == 2 and posts[0].json() == posts[1].json()
        row = await delivery(client.gateway, answer["delivery_id"])
        assert row.detail["lost_job"] and row.detail["stats"] == {
            "created": 0,
            "updated": 1,
            "deleted": 0,
            "ignored": 0,
            "total": 1,
        }


async def test_a_rejected_payload_is_dead_with_every_error_report(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    unknown_stage = "Zj7UnCAulEk"
    async with dhis2_app() as client:
        answer = await submit(client, flat_event(programStage=unknown_stage), **{"async": "false"})
        assert await settled(client.gateway) == {"dead": 1}
        assert len(dhis2.posted("/tracker")) == 1
        row = await delivery(client.gateway, answer["delivery_id"])
        assert row.last_status_code == 409 and "E1013" in row.last_error
        [error] = row.detail["errors"]
        assert error["errorCode"] == "E1013" and error["trackerType"] == "EVENT"
        assert error["uid"] == answer["payload"]["events"][0]["event"]


async def test_an_asynchronous_import_with_errors_is_dead_with_its_report(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app(instance={"tracker": {"async_import": True, "poll_interval": 0.01}}) as client:
        answer = await submit(client, flat_event(orgUnit="ImspTQPwCqd"))
        assert await settled(client.gateway) == {"dead": 1}
        row = await delivery(client.gateway, answer["delivery_id"])
        assert row.detail["status"] == "ERROR" and row.detail["errors"][0]["errorCode"] == "E1011"


async def test_objects_get_the_same_uids_on_every_attempt(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        dhis2.fail_with(500, times=1, path="/tracker")
        answer = await submit(client, flat_event(), **{"async": "false"})
        assert await settled(client.gateway) == {"delivered": 1}
        first, second = dhis2.posted("/tracker")
        assert first.json() == second.json() == answer["payload"]


async def test_payload_problems_are_reported_by_field(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    body = {
        "events": [
            {"event": "short", "program": CHILD_PROGRAMME, "orgUnit": "FAC-404", "dataValues": [{"dataElement": "x"}]},
            "not an object",
        ],
        "relationships": [{"relationshipType": "ZZZZZZZZZZZ", "from": {"trackedEntity": "bad"}}],
        "extra": [],
    }
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        r = await client.post(TRACKER, json=body, headers=headers)
        assert r.status_code == 422
        assert {e["field"] for e in r.json()["errors"]} == {"extra"}
        del body["extra"]
        r = await client.post(TRACKER, json=body, headers=headers)
        assert {e["field"] for e in r.json()["errors"]} == {
            "events[0].event",
            "events[0].orgUnit",
            "events[0].dataValues[0].dataElement",
            "events[1]",
            "relationships[0].from.trackedEntity",
            "relationships[0].to",
        }
        empty = await client.post(TRACKER, json={"events": []}, headers=headers)
        assert empty.status_code == 422 and "nothing to import" in empty.json()["errors"][0]["message"]


async def test_org_unit_codes_in_a_tracker_payload_are_mapped(dhis2_app, dhis2) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        headers = await user_headers(client.gateway, "operator")
        units = csv_bytes([["FAC-001", NGELEHUN]], header=["code", "org_unit"])
        await client.post("/plugins/dhis2/orgunit-mappings/import", files=upload(units), headers=headers)
        answer = await submit(client, flat_event(orgUnit="FAC-001"))
        assert answer["payload"]["events"][0]["orgUnit"] == NGELEHUN


async def test_tracker_submission_needs_the_tracker_scope(dhis2_app) -> None:  # type: ignore[no-untyped-def]
    async with dhis2_app() as client:
        aggregate_key = await api_key_headers(client.gateway, ["dhis2:aggregate"])
        r = await client.post(TRACKER, json=flat_event(), headers=aggregate_key)
        assert r.status_code == 403
        bad_flag = await client.post(
            TRACKER, params={"async": "maybe"}, json=flat_event(), headers=await user_headers(client.gateway)
        )
        assert bad_flag.status_code == 422 and bad_flag.json()["errors"][0]["field"] == "async"
