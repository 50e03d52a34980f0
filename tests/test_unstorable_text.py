"""Text no column can store (NUL, lone surrogates) is stored as U+FFFD, and one row never stops a batch.

PostgreSQL's text and jsonb refuse U+0000 and every UTF-8 column refuses a lone surrogate; before
the storage boundary made such text storable, one such character failed its whole batch: an
audit batch (retried forever, so no request, login failure or lockout was recorded again), an
ingest batch, a batch of device readings, a list query.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.requests import Request

from core import Adapter, DeliveryError, DeliveryInfo, DeliveryResult, Destination, StandardMessage, hookimpl
from core.gateway import Gateway
from core.storage.models import audit_log, messages
from core.testing import attempts, deliveries_of, delivery_statuses, run_jobs, user_headers, wait_until
from plugins.dhis2.mappings.store import DATA_VALUES, ORG_UNITS
from tests.devices.device_steps import reading, register, upload
from tests.support.auth import audit_rows, make_user

BAD = "a\x00b\ud800c"  # a NUL and a lone surrogate
STORED = "a\ufffdb\ufffdc"


class LooseAdapter(Adapter):
    """A third-party adapter that parses with ``json.loads``, which lets ``"\\ud800"`` through."""

    name = "loose"

    async def authenticate(self, request: Request, body: bytes) -> None:
        return None

    async def parse(self, request: Request, body: bytes) -> list[StandardMessage]:
        item = json.loads(body)
        return [
            StandardMessage(
                platform="loose",
                external_id=item["id"],
                kind="text",
                sender=item["from"],
                text=item["text"],
                extra={"note": item["text"], item["text"]: [item["text"]]},
                raw=item,
            )
        ]


class LoosePlugin:
    @hookimpl
    def switchboard_adapters(self) -> list[Adapter]:
        return [LooseAdapter()]


async def test_an_adapter_s_nul_and_lone_surrogate_are_stored_as_replacement_characters(app_client: Any) -> None:
    body = b'{"id": "loose-1", "from": "+255700000009\\u0000", "text": "a\\u0000b\\ud800c"}'
    async with app_client(extra_plugins=[("loose", LoosePlugin())]) as client:
        r = await client.post("/webhooks/loose", content=body)
        assert r.status_code == 200, r.text
        async with client.gateway.db.transaction() as conn:
            row = (await conn.execute(sa.select(messages).where(messages.c.platform == "loose"))).one()
    assert row.text == STORED
    assert row.sender == "+255700000009\ufffd"
    assert row.extra == {"note": STORED, STORED: [STORED]}
    assert row.raw == {"id": "loose-1", "from": "+255700000009\ufffd", "text": STORED}


class PickyDestination(Destination):
    """Refuses every message with an error and details holding a NUL and a lone surrogate."""

    name = "picky"

    async def deliver(self, message: StandardMessage, delivery: DeliveryInfo) -> DeliveryResult:
        raise DeliveryError(BAD, retryable=False, status_code=400, detail={BAD: BAD})


class PickyPlugin:
    @hookimpl
    def switchboard_destinations(self) -> list[Destination]:
        return [PickyDestination()]


async def test_a_destination_s_nul_and_lone_surrogate_are_stored_with_its_attempt(app_client: Any) -> None:
    async with app_client(extra_plugins=[("picky", PickyPlugin())]) as client:
        message = StandardMessage(platform="loose", external_id="picky-1", kind="text", text="hi")
        await client.gateway.submit([message], destinations=["picky"])

        async def dead() -> bool:
            await run_jobs(client.gateway, share=True)  # a worker with this test's destination
            return await delivery_statuses(client.gateway) == {"dead": 1}

        await wait_until(dead, timeout=30, interval=0, message="the delivery to be dead")
        [delivery] = await deliveries_of(client.gateway, message.id)  # type: ignore[arg-type]
        [attempt] = await attempts(client.gateway, delivery.id)
    assert delivery.last_error == attempt.error == STORED
    assert attempt.detail == {STORED: STORED}


async def test_a_nul_in_a_request_path_does_not_stop_the_audit_log(app_client: Any) -> None:
    async with app_client() as client:
        await make_user(client.gateway, "fumo")
        assert (await client.get("/%00")).status_code == 404
        await client.gateway.audit.flush()
        r = await client.post("/api/auth/token", json={"username": "fumo", "password": "not-the-password-1"})
        assert r.status_code == 401
        assert [row.action for row in await audit_rows(client.gateway)] == ["login_failed"]
        requests = await audit_rows(client.gateway, "request")
    assert "/\ufffd" in [row.path for row in requests]


async def test_an_audit_row_the_database_refuses_is_set_aside_and_the_rest_written(
    app_client: Any, caplog: Any
) -> None:
    async with app_client() as client:
        audit = client.gateway.audit
        audit.record("system", action="before")
        # Nothing the sanitiser covers: a detail no JSON serializer can write.
        audit.record("system", action="unwritable", request_id="req-bad", detail={"value": object()})
        audit.record("system", action="after")
        with caplog.at_level(logging.ERROR, logger="switchboard.audit"):
            await audit.flush()
        audit.record("system", action="later")
        await audit.flush()
        assert audit._task is not None and not audit._task.done()
        rows = await audit_rows(client.gateway, "system")
    assert [row.action for row in rows] == ["before", "after", "later"]
    assert audit.set_aside == 1
    [line] = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
    assert "action=unwritable" in line and "request_id=req-bad" in line and "object at" not in line


async def test_a_nul_in_one_device_reading_id_fails_nothing(app_client: Any) -> None:
    async with app_client() as client:
        _, key = await register(client)
        answer = await upload(client, key, [reading("r-1"), reading("r-\x00")])
        assert answer == {"accepted": 2, "duplicates": 0, "rejected": []}
        # Sent again: every reading is found stored (its id as it was stored).
        again = await upload(client, key, [reading("r-1"), reading("r-\x00")])
        assert again["accepted"] == 0 and again["duplicates"] == 2
        async with client.gateway.db.transaction() as conn:
            ids = sorted((await conn.execute(sa.select(messages.c.external_id))).scalars())
    assert [i.split(":", 1)[1] for i in ids] == ["r-1", "r-\ufffd"]


# Every text filter of every list: core's /api lists (as /openapi.json lists them: checked below)
# and the plugins' lists (their routes do not describe their query strings).
API_FILTERS = [
    ("/api/conversations", "platform"),
    ("/api/conversations", "participant"),
    ("/api/deliveries", "destination"),
    ("/api/deliveries", "platform"),
    ("/api/logs", "kind"),
    ("/api/logs", "user"),
    ("/api/logs", "endpoint"),
    ("/api/logs", "action"),
    ("/api/logs", "platform"),
    ("/api/messages", "platform"),
    ("/api/messages", "kind"),
    ("/api/messages", "sender"),
    ("/api/messages", "participant"),
    ("/api/users", "search"),
    ("/api/users", "role"),
]
PLUGIN_FILTERS = [
    ("/plugins/devices/devices", "facility"),
    ("/plugins/devices/readings", "subject"),
    ("/plugins/devices/readings", "metric"),
    ("/plugins/devices/alerts", "subject"),
    *[("/plugins/dhis2/mappings", name) for name in DATA_VALUES.filters],
    *[("/plugins/dhis2/orgunit-mappings", name) for name in ORG_UNITS.filters],
]
DHIS2 = {"instances": {"national": {"base_url": "http://127.0.0.1:9", "token": "d2pat_nul"}}}


@pytest.mark.parametrize(("path", "name"), API_FILTERS + PLUGIN_FILTERS)
async def test_a_list_filter_holding_a_nul_answers_without_a_server_error(
    app_client: Any, path: str, name: str
) -> None:
    async with app_client(plugins={"dhis2": DHIS2}) as client:
        admin = await user_headers(client.gateway, "admin")
        r = await client.get(path, params={name: "x\x00"}, headers=admin)
    assert r.status_code in (200, 400, 422), r.text


def _free_text(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" and "enum" not in schema and "format" not in schema


@pytest.mark.stacks("sqlite")
async def test_every_text_filter_of_the_api_is_among_those_tried(app_client: Any) -> None:
    async with app_client() as client:
        document = (await client.get("/openapi.json")).json()
    text_filters = {
        (path, p["name"])
        for path, operations in document["paths"].items()
        if path.startswith("/api/") and "get" in operations
        for p in operations["get"].get("parameters", [])
        if p["in"] == "query"
        and p["name"] not in ("cursor", "before")  # keyset cursors: parsed, never matched as text
        and any(_free_text(s) for s in p["schema"].get("anyOf", [p["schema"]]))
    }
    # Tried as well: filters of a closed set of values (``kind`` of the audit log), answered 422.
    assert text_filters <= set(API_FILTERS)


async def test_json_columns_written_through_sqlalchemy_are_stored_with_replacements(
    client: Any,
) -> None:
    gateway: Gateway = client.gateway
    async with gateway.db.transaction() as conn:
        await conn.execute(
            audit_log.insert().values(at=datetime.now(UTC), kind="system", detail={BAD: [BAD]}, error=BAD)
        )
        row = (await conn.execute(sa.select(audit_log.c.detail, audit_log.c.error))).one()
    assert row.detail == {STORED: [STORED]} and row.error == STORED
