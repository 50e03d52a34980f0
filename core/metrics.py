"""Prometheus metrics of this process: requests, ingest, deliveries (``GET /metrics`` shows them).

Metrics are process-wide by nature (Prometheus counts what a process did, whichever app in it
did it), so they are the one module-level object of the core. When ``serve`` runs several
workers, or deliveries run in ``switchboard worker``, every process writes its values to
files under ``PROMETHEUS_MULTIPROC_DIR`` (``configure_multiprocess``) and ``/metrics`` in
any of them reads them all. Recording is a dict lookup and a counter add on the hot path:
label children are cached.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DELIVERY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def configure_multiprocess(data_dir: str | os.PathLike[str]) -> Path:
    """Share metrics between this process and its children through files under ``data_dir``.

    Call before the first metric is recorded (the CLI does, for ``serve`` and ``worker``); an
    existing ``PROMETHEUS_MULTIPROC_DIR`` is kept. Children inherit it through the environment.
    """
    folder = Path(os.environ.get(ENV) or Path(data_dir) / "prometheus")
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(folder)
    # prometheus_client chose its value class when it was imported; choose again now.
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return folder


class Metrics:
    """The gateway's metric families and a cache of their label children."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(ENV))
        self.registry = None if self.multiprocess else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "switchboard_http_requests", "HTTP requests by route template, method and status",
            ["route", "method", "status"], registry=r,
        )  # fmt: skip
        self.request_seconds = Histogram(
            "switchboard_http_request_duration_seconds", "HTTP request latency by route template and status",
            ["route", "method", "status"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.ingested = Counter(
            "switchboard_messages_ingested", "Messages stored (duplicates excluded) by platform", ["platform"], registry=r
        )
        self.deliveries = Counter(
            "switchboard_delivery_attempts", "Delivery attempts by destination and outcome (delivered, retry, dead)",
            ["destination", "outcome"], registry=r,
        )  # fmt: skip
        self.delivery_seconds = Histogram(
            "switchboard_delivery_duration_seconds", "Time of one delivery attempt by destination",
            ["destination"], buckets=DELIVERY_BUCKETS, registry=r,
        )  # fmt: skip
        self.retries = Counter(
            "switchboard_delivery_retries", "Attempts that failed and were scheduled again", ["destination"], registry=r
        )
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._ingest_children: dict[str, Any] = {}

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one finished HTTP request."""
        key = (route, method, status)
        children = self._request_children.get(key)
        if children is None:
            labels = (route, method, str(status))
            children = self._request_children[key] = (
                self.requests.labels(*labels),
                self.request_seconds.labels(*labels),
            )
        children[0].inc()
        children[1].observe(seconds)

    def ingest(self, platform: str, count: int) -> None:
        """Count ``count`` new messages of ``platform``."""
        child = self._ingest_children.get(platform)
        if child is None:
            child = self._ingest_children[platform] = self.ingested.labels(platform)
        child.inc(count)

    def attempt(self, destination: str, outcome: str, seconds: float) -> None:
        """Count one delivery attempt (``delivered``, ``retry`` or ``dead``) and its duration."""
        self.deliveries.labels(destination, outcome).inc()
        self.delivery_seconds.labels(destination).observe(seconds)
        if outcome == "retry":
            self.retries.labels(destination).inc()

    def exposition(self) -> bytes:
        """Every process's metrics in Prometheus's text format."""
        if self.registry is not None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


_metrics: Metrics | None = None


def metrics() -> Metrics:
    """This process's metrics (created on first use, in the mode the environment says)."""
    global _metrics
    if _metrics is None:
        _metrics = Metrics()
    return _metrics
