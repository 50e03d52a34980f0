"""Graph errors are classified by their code: throttling and Meta's trouble retried, the rest dead."""

from __future__ import annotations

from typing import Any

import pytest

from core import requeue_delivery
from core.testing import attempts, deliveries_of, drain, settle
from tests.whatsapp.support import WA_ID, outbound_message, post_webhook, send, status_payload, tracking


@pytest.mark.parametrize(
    ("code", "status"),
    [(4, 400), (80007, 400), (130429, 400), (131056, 400), (131000, 500), (100, 503)],
    ids=["app-rate-limit", "account-rate-limit", "throughput", "pair-rate-limit", "meta-trouble", "any-5xx"],
)
async def test_throttling_and_server_errors_are_retried_later(
    whatsapp_client: Any, graph: Any, code: int, status: int
) -> None:
    graph.fail_next(code, status=status)
    async with whatsapp_client() as client:
        delivery = await send(client.gateway, outbound_message())
    assert delivery.status == "retrying"
    assert delivery.next_attempt_at is not None
    assert f"Graph error {code}" in delivery.last_error
    assert delivery.last_status_code == status


@pytest.mark.parametrize(
    ("code", "status", "shown"),
    [
        (131047, 400, "only a template can reopen the conversation"),
        (131026, 400, "Message Undeliverable"),
        (100, 400, "Invalid parameter"),
        (190, 401, "set a new [plugins.whatsapp] access_token"),
    ],
    ids=["window-closed", "invalid-recipient", "bad-parameter", "expired-token"],
)
async def test_permanent_errors_make_the_delivery_dead_with_the_error_shown(
    whatsapp_client: Any, graph: Any, code: int, status: int, shown: str
) -> None:
    graph.fail_next(code, status=status)
    async with whatsapp_client() as client:
        delivery = await send(client.gateway, outbound_message())
        [attempt] = await attempts(client.gateway, delivery.id)
    assert delivery.status == "dead"
    assert delivery.last_error.startswith(f"Graph error {code}")
    assert shown in delivery.last_error
    assert delivery.detail["graph_error"]["code"] == code
    assert delivery.detail["graph_error"]["fbtrace_id"]
    assert attempt.outcome == "dead"
    assert str(code) in attempt.response_excerpt


async def test_a_retried_send_goes_through_on_the_next_attempt(whatsapp_client: Any, graph: Any) -> None:
    graph.fail_next(130429)
    async with whatsapp_client() as client:
        first = await send(client.gateway, outbound_message())
        await drain(client.gateway, include_future=True)
        [delivery] = await deliveries_of(client.gateway, first.message_id)
    assert first.status == "retrying"
    assert (delivery.status, delivery.attempt_count) == ("delivered", 2)
    assert delivery.remote_ref.startswith("wamid.")
    assert len(graph.sends()) == 2


async def test_a_retry_after_a_lost_answer_is_not_sent_twice_when_a_status_showed_it_arrived(
    whatsapp_client: Any, graph: Any
) -> None:
    # Attempt 1 reached Meta but its answer was lost (here: a 500); Meta then reports the
    # message's status, echoing the callback data the destination set.
    graph.fail_next(131000, status=500)
    async with whatsapp_client() as client:
        first = await send(client.gateway, outbound_message())
        sent = graph.sends()[0]
        status = status_payload("sent", "wamid.HBgLlost-answer")
        status["entry"][0]["changes"][0]["value"]["statuses"][0]["biz_opaque_callback_data"] = sent[
            "biz_opaque_callback_data"
        ]
        await post_webhook(client, status)
        await drain(client.gateway, include_future=True)
        [delivery] = await deliveries_of(client.gateway, first.message_id)
        row = await tracking(client.gateway, "wamid.HBgLlost-answer")
    assert (delivery.status, delivery.remote_ref) == ("delivered", "wamid.HBgLlost-answer")
    assert len(graph.sends()) == 1
    assert (row.message_id, row.recipient, row.status) == (first.message_id, WA_ID, "sent")


async def test_a_requeue_after_a_lost_answer_is_not_sent_twice_when_a_status_showed_it_arrived(
    whatsapp_client: Any, graph: Any
) -> None:
    # The requeue's first attempt is attempt 1 of a fresh budget, yet not the delivery's first.
    graph.fail_next(131000, status=500)
    async with whatsapp_client(max_attempts=1) as client:
        first = await send(client.gateway, outbound_message())
        assert first.status == "dead"
        status = status_payload("sent", "wamid.HBgLlost-answer")
        status["entry"][0]["changes"][0]["value"]["statuses"][0]["biz_opaque_callback_data"] = graph.sends()[0][
            "biz_opaque_callback_data"
        ]
        await post_webhook(client, status)
        await requeue_delivery(client.gateway, first.id)
        assert await settle(client.gateway) == {"delivered": 1}
        [delivery] = await deliveries_of(client.gateway, first.message_id)
    assert (delivery.status, delivery.remote_ref) == ("delivered", "wamid.HBgLlost-answer")
    assert len(graph.sends()) == 1


async def test_a_non_json_error_answer_is_classified_by_its_http_status(whatsapp_client: Any, graph: Any) -> None:
    async with whatsapp_client(graph_base_url=graph.url + "/no-such-prefix") as client:
        delivery = await send(client.gateway, outbound_message())
    assert delivery.status == "dead"  # Starlette's plain 404
    assert "HTTP 404" in delivery.last_error
