"""The operations API: browse messages, deliveries, conversations and the audit log; repair deliveries."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from core.storage.models import deliveries
from core.testing import GatewayClient, settle, user_headers, wait_until
from tests.support.echo import item, post_echo
from tests.support.receiver import Receiver, running_receiver

JSON = {"content-type": "application/json"}



@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as r:
        yield r


@pytest.fixture
async def gw(example_installed: None, app_client, receiver: Receiver) -> AsyncIterator[GatewayClient]:  # type: ignore[no-untyped-def]
    async with app_client(
        routes=[{"source": "echo", "destinations": ["crm"]}],
        plugins={"http": {"destinations": {"crm": {"url": receiver.url}, "echo": {"url": receiver.url}}}},
        delivery={"max_attempts": 2, "backoff_base": 0.05, "backoff_max": 0.1, "jitter": 0},
    ) as client:
        client.headers.update(await user_headers(client.gateway, "operator"))
        yield client


async def test_messages_list_newest_first_with_a_cursor(gw: GatewayClient) -> None:
    await post_echo(gw, *(item(f"m{i}", sender=f"+2557000000{i:02d}") for i in range(5)))
    first = (await gw.get("/api/messages", params={"limit": 2})).json()
    assert [m["external_id"] for m in first["items"]] == ["m4", "m3"]
    second = (await gw.get("/api/messages", params={"limit": 2, "cursor": first["next"]})).json()
    third = (await gw.get("/api/messages", params={"limit": 2, "cursor": second["next"]})).json()
    assert [m["external_id"] for m in second["items"] + third["items"]] == ["m2", "m1", "m0"]
    assert third["next"] is None
    keys = set(first["items"][0])
    assert {
        "id",
        "platform",
        "external_id",
        "direction",
        "kind",
        "sender",
        "sender_name",
        "recipient",
        "text",
        "media",
        "timestamp",
        "extra",
        "conversation_id",
        "received_at",
    } <= keys


async def test_messages_filter_by_sender_kind_and_platform(gw: GatewayClient) -> None:
    await post_echo(gw, item("a", sender="+1"), item("b", sender="+2"))
    by_sender = (await gw.get("/api/messages", params={"sender": "+2"})).json()["items"]
    assert [m["external_id"] for m in by_sender] == ["b"]
    assert (await gw.get("/api/messages", params={"kind": "image"})).json()["items"] == []
    assert len((await gw.get("/api/messages", params={"platform": "echo"})).json()["items"]) == 2


async def test_message_time_range_filter(gw: GatewayClient) -> None:
    await post_echo(gw, item("t1"))
    past = (await gw.get("/api/messages", params={"until": "2000-01-01T00:00:00Z"})).json()["items"]
    assert past == []
    assert len((await gw.get("/api/messages", params={"since": "2000-01-01T00:00:00"})).json()["items"]) == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"conversation": "not-a-uuid"}, "conversation"),
        ({"direction": "sideways"}, "direction"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_invalid_message_filters_name_the_field(gw: GatewayClient, params: dict[str, str], field: str) -> None:
    r = await gw.get("/api/messages", params=params)
    assert r.status_code == 422
    assert field in [e["field"] for e in r.json()["errors"]]


async def test_invalid_cursor_is_a_400(gw: GatewayClient) -> None:
    r = await gw.get("/api/deliveries", params={"cursor": "!!!"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "cursor"


async def test_unknown_delivery_status_filter_is_a_422(gw: GatewayClient) -> None:
    r = await gw.get("/api/deliveries", params={"status": "lost"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("status")


async def test_message_detail_has_deliveries_with_attempts(gw: GatewayClient, receiver: Receiver) -> None:
    stored = await post_echo(gw, item("d1"))
    await settle(gw.gateway)
    message = (await gw.get(f"/api/messages/{stored['messages'][0]['id']}")).json()
    [delivery] = message["deliveries"]
    assert delivery["status"] == "delivered" and delivery["destination"] == "crm"
    assert delivery["attempts"][0]["outcome"] == "delivered" and delivery["attempts"][0]["status_code"] == 200
    assert message["raw"] == item("d1")


async def test_unknown_ids_are_404(gw: GatewayClient) -> None:
    for path in (
        "/api/messages/nope",
        "/api/deliveries/00000000-0000-7000-8000-000000000000",
        "/api/conversations/00000000-0000-7000-8000-000000000000",
        "/api/logs/999999999",
    ):
        assert (await gw.get(path)).status_code == 404, path


async def test_permanent_failure_is_dead_then_requeue_delivers(gw: GatewayClient, receiver: Receiver) -> None:
    receiver.fail_with(400)
    stored = await post_echo(gw, item("r1"))
    delivery_id = stored["messages"][0]["deliveries"][0]
    await settle(gw.gateway)
    dead = (await gw.get(f"/api/deliveries/{delivery_id}")).json()
    assert dead["status"] == "dead" and dead["last_status_code"] == 400 and dead["attempt_count"] == 1
    assert "400" in dead["last_error"] and dead["attempts"][0]["response_excerpt"]
    assert dead["message"]["external_id"] == "r1"

    receiver.heal()
    r = await gw.post(f"/api/deliveries/{delivery_id}/requeue")
    assert r.status_code == 200 and r.json()["status"] == "queued"
    await settle(gw.gateway)
    fixed = (await gw.get(f"/api/deliveries/{delivery_id}")).json()
    assert fixed["status"] == "delivered" and [a["outcome"] for a in fixed["attempts"]] == ["dead", "delivered"]


async def test_retryable_failures_exhaust_attempts_then_dead(gw: GatewayClient, receiver: Receiver) -> None:
    receiver.fail_with(503)
    stored = await post_echo(gw, item("x1"))
    delivery_id = stored["messages"][0]["deliveries"][0]

    async def dead() -> dict[str, Any] | None:
        await settle(gw.gateway)
        d: dict[str, Any] = (await gw.get(f"/api/deliveries/{delivery_id}")).json()
        return d if d["status"] == "dead" else None

    # max_attempts is 2 with 0.05 s backoff: wait for the retry, then it is dead.
    d = await wait_until(dead, timeout=30, interval=0, message="the delivery to be dead after its retry")
    assert d["status"] == "dead" and d["attempt_count"] == 2
    assert [a["outcome"] for a in d["attempts"]] == ["retry", "dead"]
    assert "gave up after 2 attempts" in d["last_error"]


async def test_delivered_delivery_cannot_be_requeued(gw: GatewayClient) -> None:
    stored = await post_echo(gw, item("ok1"))
    await settle(gw.gateway)
    r = await gw.post(f"/api/deliveries/{stored['messages'][0]['deliveries'][0]}/requeue")
    assert r.status_code == 409


async def test_bulk_requeue_by_filter_returns_the_count(gw: GatewayClient, receiver: Receiver) -> None:
    receiver.fail_with(422)
    await post_echo(gw, item("b1"), item("b2"), item("b3"))
    await settle(gw.gateway)
    receiver.heal()
    r = await gw.post("/api/deliveries/requeue", json={"status": ["dead"], "destination": "crm"})
    assert r.status_code == 200 and r.json() == {"requeued": 3}
    assert await settle(gw.gateway) == {"delivered": 3}
    assert (await gw.post("/api/deliveries/requeue", json={})).json() == {"requeued": 0}


async def test_bulk_requeue_refuses_delivered_status(gw: GatewayClient) -> None:
    r = await gw.post("/api/deliveries/requeue", json={"status": ["delivered"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status"


async def test_purge_needs_a_finished_status_and_returns_the_count(gw: GatewayClient) -> None:
    await post_echo(gw, item("p1"), item("p2"))
    await settle(gw.gateway)
    assert (await gw.post("/api/deliveries/purge", json={})).status_code == 422
    assert (await gw.post("/api/deliveries/purge", json={"status": ["queued"]})).status_code == 422
    assert (await gw.post("/api/deliveries/purge", content=b"{not json", headers=JSON)).status_code == 400
    assert (await gw.post("/api/deliveries/purge", content=b"{}")).status_code == 415  # no content type
    r = await gw.post("/api/deliveries/purge", json={"status": ["delivered"]})
    assert r.json() == {"purged": 2}
    assert (await gw.get("/api/deliveries")).json()["items"] == []


async def test_delete_one_delivery_but_not_while_running(gw: GatewayClient, receiver: Receiver) -> None:
    receiver.fail_with(400)
    stored = await post_echo(gw, item("del1"), item("del2"))
    await settle(gw.gateway)
    first, second = (m["deliveries"][0] for m in stored["messages"])
    async with gw.gateway.db.transaction() as conn:
        await conn.execute(sa.update(deliveries).where(deliveries.c.id == uuid.UUID(second)).values(status="running"))
    assert (await gw.delete(f"/api/deliveries/{second}")).status_code == 409
    assert (await gw.delete(f"/api/deliveries/{first}")).status_code == 204
    assert (await gw.get(f"/api/deliveries/{first}")).status_code == 404


async def test_viewer_reads_but_cannot_repair(gw: GatewayClient) -> None:
    viewer = await user_headers(gw.gateway, "viewer")
    assert (await gw.get("/api/deliveries", headers=viewer)).status_code == 200
    assert (await gw.post("/api/deliveries/requeue", json={}, headers=viewer)).status_code == 403
    assert (await gw.get("/api/logs", headers=viewer)).status_code == 403


async def test_conversation_collects_a_participants_messages(gw: GatewayClient) -> None:
    await post_echo(gw, item("c1", sender="+1"), item("c2", sender="+2"))
    await post_echo(gw, item("c3", sender="+1"))
    convs = (await gw.get("/api/conversations", params={"participant": "+1"})).json()["items"]
    assert len(convs) == 1 and convs[0]["message_count"] == 2 and convs[0]["status"] == "open"
    detail = (await gw.get(f"/api/conversations/{convs[0]['id']}")).json()
    assert [m["external_id"] for m in detail["messages"]] == ["c3", "c1"]


async def test_idle_conversation_is_closed_and_a_new_one_opens(example_installed: None, app_client) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    async with app_client(conversations={"idle_timeout": 1}) as client:
        client.headers.update(await user_headers(client.gateway, "viewer"))
        await post_echo(client, item("i1", sender="+9"))
        await asyncio.sleep(1.2)
        await post_echo(client, item("i2", sender="+9"))
        convs = (await client.get("/api/conversations", params={"participant": "+9"})).json()["items"]
        assert [c["status"] for c in convs] == ["open", "closed"]
        assert [c["message_count"] for c in convs] == [1, 1]


async def test_reply_to_a_conversation_goes_out_through_the_platform_destination(
    gw: GatewayClient, receiver: Receiver
) -> None:
    await post_echo(gw, item("q1", sender="+255711111111"))
    conv = (await gw.get("/api/conversations")).json()["items"][0]
    r = await gw.post(f"/api/conversations/{conv['id']}/messages", json={"text": "we hear you"})
    assert r.status_code == 202, r.text
    await settle(gw.gateway)
    reply = [b for b in receiver.bodies() if b["direction"] == "out"]
    assert reply and reply[0]["recipient"] == "+255711111111" and reply[0]["text"] == "we hear you"
    detail = (await gw.get(f"/api/conversations/{conv['id']}")).json()
    assert detail["messages"][0]["direction"] == "out"


async def test_reply_needs_text_and_a_known_conversation(gw: GatewayClient) -> None:
    await post_echo(gw, item("q2"))
    conv = (await gw.get("/api/conversations")).json()["items"][0]
    assert (await gw.post(f"/api/conversations/{conv['id']}/messages", json={})).status_code == 400
    assert (await gw.post(f"/api/conversations/{conv['id']}/messages", json={"txt": "x"})).status_code == 422
    missing = "/api/conversations/00000000-0000-7000-8000-000000000000/messages"
    assert (await gw.post(missing, json={"text": "x"})).status_code == 404


async def test_an_unknown_audit_kind_filter_is_a_422_naming_kind(gw: GatewayClient) -> None:
    r = await gw.get("/api/logs", params={"kind": "bogus"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"


async def test_every_kind_the_audit_log_holds_can_be_filtered_on(gw: GatewayClient) -> None:
    await post_echo(gw, item("a1"))
    await gw.get("/api/messages")
    await gw.gateway.audit.flush()
    kinds = {e["kind"] for e in (await gw.get("/api/logs", params={"limit": 500})).json()["items"]}
    assert kinds
    for kind in kinds:
        r = await gw.get("/api/logs", params={"kind": kind})
        assert r.status_code == 200 and {e["kind"] for e in r.json()["items"]} == {kind}


async def test_requests_and_webhooks_are_in_the_audit_log(gw: GatewayClient) -> None:
    await post_echo(gw, item("a1"))
    await gw.get("/api/messages")
    await gw.gateway.audit.flush()
    webhooks = (await gw.get("/api/logs", params={"kind": "webhook"})).json()["items"]
    assert webhooks and webhooks[0]["path"] == "/webhooks/echo" and webhooks[0]["status"] == 200
    requests = (await gw.get("/api/logs", params={"kind": "request", "endpoint": "/api/messages"})).json()["items"]
    assert requests and requests[0]["actor"].startswith("user:") and requests[0]["method"] == "GET"
    detail = (await gw.get(f"/api/logs/{webhooks[0]['id']}")).json()
    assert detail["detail"]["messages"] == 1
