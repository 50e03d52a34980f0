"""A delivery's page shows what each attempt recorded (redacted), conflicts by the source code that was sent,
the stored submission as JSON, and a link to its message."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from core.storage.ids import uuid7
from core.storage.models import deliveries, delivery_attempts, messages
from core.testing import GatewayClient
from tests.console.conftest import log_in

CONFLICT = {
    "object": "ZZZZZZZZZZZ",
    "value": "Data element not found or not accessible",
    "errorCode": "E7610",
    "indexes": [0],
    "dataValues": [{"index": 0, "code": "GHOST", "dataElement": "ZZZZZZZZZZZ", "value": "7"}],
}


async def refused_submission(gw: GatewayClient) -> str:
    """A DHIS2 aggregate submission that DHIS2 refused with one conflict, as the plugin records it; the delivery id."""
    now = datetime.now(UTC)
    message_id, delivery_id = uuid7(), uuid7()
    submission = json.dumps({"dataSet": "monthly", "values": [{"code": "GHOST", "value": 7}]})
    detail = {
        "type": "aggregate",
        "status": "ERROR",
        "import_count": {"imported": 0, "updated": 0, "ignored": 1, "deleted": 0},
        "conflicts": [CONFLICT],
        "request": {"headers": {"Authorization": "ApiToken d2pat_secret", "Content-Type": "application/json"}},
    }
    async with gw.gateway.db.transaction() as conn:
        await conn.execute(
            messages.insert().values(
                id=message_id,
                platform="dhis2",
                external_id="sub-1",
                direction="in",
                kind="data",
                text=None,
                media=[],
                timestamp=now,
                received_at=now,
                extra={"dhis2": "aggregate", "submission": submission},
            )
        )
        await conn.execute(
            deliveries.insert().values(
                id=delivery_id,
                message_id=message_id,
                destination="dhis2:main",
                platform="dhis2",
                status="dead",
                attempt_count=1,
                max_attempts=5,
                options={},
                idempotency_key="k-1",
                created_at=now,
                updated_at=now,
                detail=detail,
                last_error="DHIS2 import ERROR",
            )
        )
        await conn.execute(
            delivery_attempts.insert().values(
                delivery_id=delivery_id,
                number=1,
                started_at=now,
                duration_ms=12.0,
                outcome="dead",
                status_code=409,
                error="DHIS2 import ERROR",
                detail=detail,
            )
        )
    return str(delivery_id)


async def test_a_conflict_names_the_source_code_that_was_sent(gw: GatewayClient) -> None:
    delivery_id = await refused_submission(gw)
    await log_in(gw, "viewer")
    page = await gw.get(f"/admin/deliveries/{delivery_id}")
    assert page.status_code == 200
    table = page.text.split('class="list conflicts"')[1].split("</table>")[0]
    assert "GHOST" in table and "ZZZZZZZZZZZ" in table


async def test_the_submission_is_shown_as_json_and_the_attempts_record_redacted(gw: GatewayClient) -> None:
    delivery_id = await refused_submission(gw)
    await log_in(gw, "viewer")
    page = await gw.get(f"/admin/deliveries/{delivery_id}")
    assert '\\"dataSet\\"' not in page.text  # not JSON inside a string
    assert "&#34;dataSet&#34;: &#34;monthly&#34;" in page.text or '"dataSet": "monthly"' in page.text
    assert "What this attempt recorded" in page.text and "d2pat_secret" not in page.text


async def test_the_page_links_to_its_message(gw: GatewayClient) -> None:
    delivery_id = await refused_submission(gw)
    await log_in(gw, "viewer")
    page = await gw.get(f"/admin/deliveries/{delivery_id}")
    assert 'id="message-link"' in page.text


async def test_each_attempt_shows_its_request_and_response(gw: GatewayClient) -> None:
    delivery_id = await refused_submission(gw)
    request = [
        {
            "method": "POST",
            "url": "https://play.dhis2.example/api/dataValueSets",
            "headers": [["Authorization", "[redacted]"], ["Content-Type", "application/json"]],
            # Stored as sent (compact): shown indented.
            "body": {"text": '{"dataSet":"monthly","period":"202601"}', "size": 38, "truncated": False},
        },
        {"method": "PUT", "url": "https://files.example/upload", "headers": [], "body": {"size": 9, "binary": True}},
    ]
    response = [
        {
            "status": 409,
            "headers": [["Content-Type", "application/json"]],
            "body": {"text": '{"status": "ERROR"}', "size": 5000, "truncated": True},
        },
        {"error": "ConnectError: connection refused"},
    ]
    async with gw.gateway.db.transaction() as conn:
        await conn.execute(
            delivery_attempts.update()
            .where(delivery_attempts.c.delivery_id == uuid.UUID(delivery_id))
            .values(request=request, response=response)
        )
    await log_in(gw, "viewer")
    page = await gw.get(f"/admin/deliveries/{delivery_id}")
    assert page.status_code == 200
    shown = page.text.split('class="sub exchanges"')[1].split("</details>")[0]
    assert "POST https://play.dhis2.example/api/dataValueSets</code> → 409" in shown
    assert "Authorization: [redacted]" in shown
    assert "{\n  &#34;dataSet&#34;: &#34;monthly&#34;,\n  &#34;period&#34;: &#34;202601&#34;\n}" in shown
    assert "Cut at 19 of 5000 bytes" in shown
    assert "9 bytes of binary content" in shown and "No answer: ConnectError: connection refused" in shown
