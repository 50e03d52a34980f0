"""``GET /metrics``: Prometheus's text format, read back with prometheus_client's own parser."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from core import DeliveryResult, Destination, StandardMessage, hookimpl
from core.testing import drain, user_headers

TOKEN = "metrics-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


class Sink(Destination):
    name = "metrics-sink"

    async def deliver(self, message: Any, delivery: Any) -> DeliveryResult:
        return DeliveryResult(status_code=200)


class SinkPlugin:
    @hookimpl
    def switchboard_destinations(self) -> list[Destination]:
        return [Sink()]


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition by (name, labels)."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_requests_are_counted_by_route_template_and_status(app_client: Callable[..., Any]) -> None:
    async with app_client(metrics={"token": TOKEN}) as client:
        headers = await user_headers(client.gateway, "viewer")
        ids = [str(uuid.uuid4()) for _ in range(3)]
        for delivery_id in ids:
            assert (await client.get(f"/api/deliveries/{delivery_id}", headers=headers)).status_code == 404
        r = await client.get("/metrics", headers=BEARER)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    found = samples(r.text)
    labels = frozenset({"route": "/api/deliveries/{id}", "method": "GET", "status": "404"}.items())
    assert found[("switchboard_http_requests_total", labels)] >= 3
    assert found[("switchboard_http_request_duration_seconds_count", labels)] >= 3
    assert not any(i in r.text for i in ids), "a raw path became a label"


async def test_ingest_deliveries_and_the_queue_are_measured(app_client: Callable[..., Any]) -> None:
    platform = f"metrics-{uuid.uuid4().hex[:6]}"
    async with app_client(metrics={"token": TOKEN}, extra_plugins=[("sink", SinkPlugin())]) as client:
        gateway = client.gateway
        messages = [StandardMessage(platform=platform, external_id=str(i), kind="text", text="hi") for i in range(2)]
        await gateway.submit(messages, destinations=["metrics-sink"])
        waiting = samples((await client.get("/metrics", headers=BEARER)).text)
        await drain(gateway)
        after = samples((await client.get("/metrics", headers=BEARER)).text)
    assert after[("switchboard_messages_ingested_total", frozenset({"platform": platform}.items()))] == 2
    assert sum(v for (name, labels), v in waiting.items() if name == "switchboard_queue_depth") >= 1
    assert ("switchboard_oldest_due_delivery_age_seconds", frozenset()) in after
    for reason in ("retry", "left"):  # messages whose plugins' stored-message hooks wait for the sweeper
        assert after[("switchboard_stored_hooks_waiting", frozenset({"reason": reason}.items()))] == 0
    delivered = frozenset({"destination": "metrics-sink", "outcome": "delivered"}.items())
    assert after[("switchboard_delivery_attempts_total", delivered)] >= 2
    duration = frozenset({"destination": "metrics-sink"}.items())
    assert after[("switchboard_delivery_duration_seconds_count", duration)] >= 2


async def test_metrics_without_the_token_or_an_allowed_address_are_refused(app_client: Callable[..., Any]) -> None:
    async with app_client(metrics={"token": TOKEN}) as client:
        assert (await client.get("/metrics")).status_code == 403
        assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 403
        admin = await user_headers(client.gateway, "admin")
        assert (await client.get("/metrics", headers=admin)).status_code == 403


async def test_an_allowed_network_scrapes_without_a_token(app_client: Callable[..., Any]) -> None:
    async with app_client(metrics={"allow_ips": ["127.0.0.0/8"]}) as client:
        r = await client.get("/metrics")
    assert r.status_code == 200
    assert any(f.name == "switchboard_queue_depth" for f in text_string_to_metric_families(r.text))


def test_metrics_of_several_processes_are_summed(tmp_path: Any, monkeypatch: Any) -> None:
    """What a worker process recorded shows in the exposition of another process."""
    import subprocess
    import sys

    from core.metrics import ENV, Metrics

    monkeypatch.setenv(ENV, str(tmp_path))
    script = (
        "from core.metrics import metrics\n"
        "m = metrics()\n"
        "m.attempt('crm', 'retry', 0.2)\n"
        "m.request('/webhooks/{platform}', 'POST', 200, 0.003)\n"
        "m.flush()\n"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", script], check=True, env={**os.environ, ENV: str(tmp_path)})
    here = Metrics()
    here.attempt("crm", "retry", 0.1)
    found = samples(here.exposition().decode())
    assert found[("switchboard_delivery_retries_total", frozenset({"destination": "crm"}.items()))] == 3
    webhook = frozenset({"route": "/webhooks/{platform}", "method": "POST", "status": "200"}.items())
    assert found[("switchboard_http_requests_total", webhook)] == 2
    assert found[("switchboard_http_request_duration_seconds_bucket", webhook | {("le", "0.005")})] == 2
