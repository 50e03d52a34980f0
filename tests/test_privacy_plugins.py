"""Erasure and export reach the plugins' own tables: device readings and alerts, web-form codes,
CEEMIS case forms and DHIS2 submission bodies of the person, and nothing of anyone else."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from core.testing import GatewayClient, user_headers
from plugins.ceemis.models import cases
from plugins.devices.models import alerts, readings
from plugins.dhis2.models import dhis2gw_submissions
from plugins.email.models import message_ids, threads
from plugins.webform.models import send_counts, verifications
from tests.support.privacy import rows_of, seed_person

PATIENT, OTHER = "patient-0001", "patient-0002"
ANN, BEN = "ann@example.net", "ben@example.net"


async def _seed_plugins(gw: GatewayClient, message_id: uuid.UUID, other_message_id: uuid.UUID) -> None:
    now = datetime.now(UTC)
    device = uuid.uuid4()
    async with gw.gateway.db.transaction() as conn:
        for subject in (PATIENT, OTHER):
            await conn.execute(
                sa.insert(readings).values(
                    device_id=device,
                    reading_id=uuid.uuid4().hex,
                    subject=subject,
                    metric="glucose",
                    value=5.5,
                    unit="mmol/L",
                    original_unit="mmol/L",
                    measured_at=now,
                    received_at=now,
                )
            )
            await conn.execute(
                sa.insert(alerts).values(
                    id=uuid.uuid4(),
                    kind="threshold",
                    rule="high",
                    severity="warning",
                    device_id=device,
                    subject=subject,
                    detail={"subject": subject},
                    created_at=now,
                )
            )
        for email in (ANN, BEN):
            await conn.execute(
                sa.insert(verifications).values(
                    email=email, organisation="org", salt="s", code_hash="h", created_at=now, expires_at=now
                )
            )
            await conn.execute(sa.insert(send_counts).values(email=email, window_start=now, sends=1))
            await conn.execute(
                sa.insert(threads).values(
                    key=f"t-{email}",
                    reply_to=email,
                    subject=f"help for {email}",
                    last_message_id="<a@x>",
                    refs="",
                    updated_at=now,
                )
            )
            await conn.execute(
                sa.insert(message_ids).values(message_id=f"<{email}>", thread_key=f"t-{email}", created_at=now)
            )
        for i, mid in enumerate((message_id, other_message_id)):
            await conn.execute(
                sa.insert(cases).values(
                    external_id=f"case-{i}",
                    message_id=mid,
                    src="walkin",
                    src_uid=f"u{i}",
                    src_callid=f"c{i}",
                    state="delivered",
                    received_at=now,
                    updated_at=now,
                    form={"narrative": f"story {i}"},
                )
            )
            await conn.execute(
                sa.insert(dhis2gw_submissions).values(
                    message_id=mid, delivery_id=uuid.uuid4(), request={"attributes": f"person {i}"}, submitted_at=now
                )
            )


async def test_an_erasure_reaches_every_plugin_table_of_the_person(app_client: Any) -> None:
    async with app_client() as gw:
        mine = await seed_person(gw.gateway, ANN, count=1)
        theirs = await seed_person(gw.gateway, BEN, count=1)
        await _seed_plugins(gw, mine["messages"][0], theirs["messages"][0])
        headers = await user_headers(gw.gateway, "admin")
        by_email = (await gw.post("/api/privacy/erasures", json={"participant": ANN}, headers=headers)).json()
        by_subject = (await gw.post("/api/privacy/erasures", json={"participant": PATIENT}, headers=headers)).json()
        assert {t: by_email["tables"][t] for t in ("webform_verifications", "webform_send_counts")} == {
            "webform_verifications": 1,
            "webform_send_counts": 1,
        }
        assert (by_email["tables"]["email_threads"], by_email["tables"]["email_message_ids"]) == (1, 1)
        assert [r.reply_to for r in await rows_of(gw.gateway, threads)] == [BEN]
        assert (by_email["tables"]["ceemis_cases"], by_email["tables"]["dhis2gw_submissions"]) == (1, 1)
        assert (by_subject["tables"]["device_readings"], by_subject["tables"]["device_alerts"]) == (1, 1)
        assert [r.email for r in await rows_of(gw.gateway, verifications)] == [BEN]
        assert [r.email for r in await rows_of(gw.gateway, send_counts)] == [BEN]
        assert sorted(str(r.subject) for r in await rows_of(gw.gateway, readings)) == ["None", OTHER]
        assert len(await rows_of(gw.gateway, readings)) == 2  # the values stay, anonymous
        assert {(str(a.subject), str(a.detail)) for a in await rows_of(gw.gateway, alerts)} == {
            ("None", "{}"),
            (OTHER, str({"subject": OTHER})),
        }
        forms = {r.message_id: r.form for r in await rows_of(gw.gateway, cases)}
        assert forms == {mine["messages"][0]: None, theirs["messages"][0]: {"narrative": "story 1"}}
        bodies = {r.message_id: r.request for r in await rows_of(gw.gateway, dhis2gw_submissions)}
        assert bodies == {mine["messages"][0]: {}, theirs["messages"][0]: {"attributes": "person 1"}}


async def test_an_export_carries_the_plugins_data_of_the_person_only(app_client: Any) -> None:
    from core.operations.subject_export import collect

    async with app_client() as gw:
        mine = await seed_person(gw.gateway, ANN, count=1)
        theirs = await seed_person(gw.gateway, BEN, count=1)
        await _seed_plugins(gw, mine["messages"][0], theirs["messages"][0])
        document = await collect(gw.gateway, ANN)
        patient = await collect(gw.gateway, PATIENT)
    assert [r["email"] for r in document["plugins"]["webform_verifications"]] == [ANN]
    assert [r["reply_to"] for r in document["plugins"]["email_threads"]] == [ANN]
    assert [r["form"] for r in document["plugins"]["ceemis_cases"]] == [{"narrative": "story 0"}]
    assert [r["subject"] for r in patient["plugins"]["device_readings"]] == [PATIENT]
    assert BEN not in repr(document) and OTHER not in repr(patient)
