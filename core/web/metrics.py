"""``GET /metrics``: Prometheus's text format, for a scraper holding ``[metrics] token`` or on ``allow_ips``."""

from __future__ import annotations

import ipaddress

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from core.auth.permissions import requires
from core.errors import Forbidden, NotFound
from core.metrics import metrics
from core.operations.stats import queue_state
from core.pipeline import stored_hooks
from core.scopes import client_address
from core.untrusted import constant_time_equal
from core.web.requests import gateway_of


def _allowed(request: Request) -> bool:
    settings = gateway_of(request).settings.metrics
    given = request.headers.get("authorization", "")
    if settings.token and given.lower().startswith("bearer "):
        return constant_time_equal(given[7:].strip(), settings.token)
    address = client_address(request.scope)
    if not address or not settings.allow_ips:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in settings.allow_ips)


@requires(public=True)  # its own check: the metrics token or an allowed address, not a user session
async def metrics_endpoint(request: Request) -> Response:
    """Every process's counters and histograms, with the queue's depth and its oldest due delivery."""
    gateway = gateway_of(request)
    if not gateway.settings.metrics.enabled:
        raise NotFound("metrics are disabled")
    if not _allowed(request):
        raise Forbidden("metrics need [metrics] token (Authorization: Bearer) or an address in allow_ips")
    state = await queue_state(gateway.db)
    # The database's view, the same from every process: computed per scrape, never stored.
    snapshot = CollectorRegistry()
    depth = Gauge("switchboard_queue_depth", "Deliveries waiting, by status", ["status"], registry=snapshot)
    for status, count in state["waiting"].items():
        depth.labels(status).set(count)
    Gauge(
        "switchboard_oldest_due_delivery_age_seconds",
        "How long the oldest due delivery has waited past its time",
        registry=snapshot,
    ).set(state["oldest_due_seconds"])
    hooks = Gauge(
        "switchboard_stored_hooks_waiting",
        "Messages whose plugins' stored-message hooks wait for the sweeper: retry (a hook raised), left (a stopped process)",
        ["reason"],
        registry=snapshot,
    )
    for reason, count in (await stored_hooks.waiting(gateway.db)).items():
        hooks.labels(reason).set(count)
    body = metrics().exposition() + generate_latest(snapshot)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def metrics_routes() -> list[BaseRoute]:
    return [Route("/metrics", metrics_endpoint)]
