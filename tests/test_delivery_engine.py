"""Delivery behaviour: classification, Retry-After, timeouts, concurrency limits, the http destination."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from core.config.settings import DeliverySettings
from core.errors import DeliveryError
from core.pipeline.retry import parse_retry_after, raise_for_response, retry_schedule
from core.storage.models import audit_log, deliveries
from core.testing import run_jobs, settle, user_headers
from tests.support.echo import item, post_echo
from tests.support.receiver import Receiver, running_receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as r:
        yield r


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
        (422, False),
        (408, True),
        (425, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
    ],
)
def test_http_answers_are_classified(status: int, retryable: bool) -> None:
    response = httpx.Response(status, text="nope", request=httpx.Request("POST", "http://x"))
    with pytest.raises(DeliveryError) as info:
        raise_for_response(response)
    assert info.value.retryable is retryable and info.value.status_code == status


def test_success_is_not_an_error() -> None:
    raise_for_response(httpx.Response(201, request=httpx.Request("POST", "http://x")))


def test_retry_after_is_read_as_seconds_or_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Thu, 01 Jan 2026 00:02:00 GMT", now) == 120
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_default_schedule_spans_about_a_day_over_eight_attempts() -> None:
    settings = DeliverySettings(jitter=0)
    waits = [retry_schedule(n, settings) for n in range(1, 8)]
    assert waits == sorted(waits) and waits[0] == 60
    assert 16 * 3600 < sum(waits) < 30 * 3600


async def test_retry_after_from_the_destination_is_honoured(
    example_installed: None, app_client, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    receiver.fail_with(429, retry_after="600")
    async with app_client(
        routes=[{"source": "echo", "destinations": ["crm"]}],
        plugins={"http": {"destinations": {"crm": {"url": receiver.url}}}},
        delivery={"backoff_base": 1, "jitter": 0},
    ) as client:
        await post_echo(client, item("ra1"))
        await settle(client.gateway)
        async with client.gateway.db.transaction() as conn:
            row = (await conn.execute(sa.select(deliveries))).one()
        assert row.status == "retrying" and row.last_status_code == 429
        assert row.next_attempt_at > datetime.now(UTC) + timedelta(seconds=590)


async def test_slow_destination_times_out_and_is_retried(
    example_installed: None, app_client, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    receiver.delay = 2
    async with app_client(
        routes=[{"source": "echo", "destinations": ["crm"]}],
        plugins={"http": {"destinations": {"crm": {"url": receiver.url, "timeout": 0.3}}}},
    ) as client:
        stored = await post_echo(client, item("slow1"))
        await settle(client.gateway)
        headers = await user_headers(client.gateway, "viewer")
        d = (await client.get(f"/api/deliveries/{stored['messages'][0]['deliveries'][0]}", headers=headers)).json()
        assert d["status"] == "retrying" and "timed out" in d["last_error"]
        assert d["attempts"][0]["outcome"] == "retry" and d["attempts"][0]["duration_ms"] >= 300


async def test_concurrency_limit_holds_across_workers(example_installed: None, app_client, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    receiver.delay = 0.15
    async with app_client(
        routes=[{"source": "echo", "destinations": ["crm"]}],
        plugins={"http": {"destinations": {"crm": {"url": receiver.url, "concurrency": 2}}}},
    ) as client:
        await post_echo(client, *(item(f"cc{i}", sender=f"+{i}") for i in range(12)))
        if client.gateway.settings.queue.backend == "arq":
            # Two workers, each with its own gateway: only Redis can hold them to 2 in all.
            await asyncio.gather(run_jobs(client.gateway), run_jobs(client.gateway))
        await settle(client.gateway)
    assert len(receiver.requests) == 12
    assert receiver.max_in_flight == 2


async def test_http_destination_template_and_basic_auth(
    example_installed: None, app_client, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    template = '{"phone": {{ message.sender | tojson }}, "body": {{ message.text | tojson }}, "d": "{{ delivery.id }}"}'
    async with app_client(
        routes=[{"source": "echo", "destinations": ["crm"]}],
        plugins={
            "http": {
                "destinations": {
                    "crm": {
                        "url": receiver.url,
                        "method": "PUT",
                        "template": template,
                        "headers": {"X-Tenant": "tz"},
                        "auth": {"type": "basic", "username": "gw", "password": "pw"},
                    }
                }
            }
        },
    ) as client:
        await post_echo(client, item("t1", sender="+255700", text='say "hi"'))
        await settle(client.gateway)
    [req] = receiver.requests
    assert req.method == "PUT" and req.headers["x-tenant"] == "tz"
    assert req.headers["authorization"] == "Basic " + base64.b64encode(b"gw:pw").decode()
    body = req.json()
    assert body["phone"] == "+255700" and body["body"] == 'say "hi"' and uuid.UUID(body["d"])


async def test_template_that_cannot_render_is_dead_at_once(
    example_installed: None, app_client, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    async with app_client(
        routes=[{"source": "echo", "destinations": ["crm"]}],
        plugins={"http": {"destinations": {"crm": {"url": receiver.url, "template": "{{ message.nope.deeper }}"}}}},
    ) as client:
        await post_echo(client, item("t2"))
        assert await settle(client.gateway) == {"dead": 1}
    assert receiver.requests == []


def test_broken_template_is_a_configuration_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.errors import ConfigError
    from core.plugins import PluginRegistry
    from core.testing import make_settings

    settings = make_settings(
        tmp_path, plugins={"http": {"destinations": {"crm": {"url": "http://x", "template": "{{ a"}}}}
    )
    with pytest.raises(ConfigError, match=r"\[plugins.http\] destinations.crm.template"):
        PluginRegistry(settings)


async def test_captured_payloads_are_redacted(example_installed: None, app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(audit={"capture_payloads": True}) as client:
        r = await client.post(
            "/webhooks/echo",
            content=b'[{"id": "p1", "from": "+1", "text": "x", "password": "hunter2", "meta": {"api_token": "t0k"}}]',
            headers={"x-echo-token": "example-token"},
        )
        assert r.status_code == 200
        async with client.gateway.db.transaction() as conn:
            detail = (
                await conn.execute(sa.select(audit_log.c.detail).where(audit_log.c.kind == "webhook"))
            ).scalar_one()
    payload = detail["payload"][0]
    assert payload["password"] == "[redacted]" and payload["meta"]["api_token"] == "[redacted]"
    assert payload["text"] == "x"


async def test_payloads_are_not_captured_by_default(example_installed: None, client) -> None:  # type: ignore[no-untyped-def]
    await post_echo(client, item("np1"))
    async with client.gateway.db.transaction() as conn:
        detail = (await conn.execute(sa.select(audit_log.c.detail).where(audit_log.c.kind == "webhook"))).scalar_one()
    assert "payload" not in detail


async def test_audit_retention_purges_only_old_rows(client) -> None:  # type: ignore[no-untyped-def]
    audit = client.gateway.audit
    old = datetime.now(UTC) - timedelta(days=client.gateway.settings.audit.retention_days + 1)
    async with client.gateway.db.transaction() as conn:
        await conn.execute(
            audit_log.insert(), [audit.row("request", at=old, path="/old"), audit.row("request", path="/new")]
        )
    assert await audit.purge() == 1
    async with client.gateway.db.transaction() as conn:
        paths = {r.path for r in await conn.execute(sa.select(audit_log.c.path))}
    assert "/new" in paths and "/old" not in paths


async def test_one_sweep_enqueues_a_backlog_larger_than_a_page(
    clean_stack,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redis flushed under a backlog: the next sweep finds all of it, page after page."""
    from core import StandardMessage
    from core.gateway import Gateway
    from core.pipeline import sweeper

    monkeypatch.setattr(sweeper, "SWEEP_BATCH", 3)
    settings = clean_stack.settings(routes=[{"source": "backlog", "destinations": ["sink"]}])
    settings.plugins["http"] = {"destinations": {"sink": {"url": "http://127.0.0.1:9/"}}}
    gateway = Gateway(settings)
    await gateway.start(run_queue=False)
    try:
        items = [
            StandardMessage(platform="backlog", external_id=f"b-{i}", kind="text", sender=f"+2557000001{i:02d}")
            for i in range(10)
        ]
        await gateway.ingest.submit(items)
        assert await sweeper.sweep(gateway, grace=-60) == 10
    finally:
        await gateway.close()
