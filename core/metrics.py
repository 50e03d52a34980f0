"""Prometheus metrics of this process: requests, ingest, deliveries (``GET /metrics`` shows them).

Metrics are process-wide by nature (Prometheus counts what a process did, whichever app in it
did it), so they are the one module-level object of the core. Recording is a dict lookup and
a few additions in plain Python (about a microsecond; prometheus_client's own counters and
histograms cost 5-15 µs a request in multiprocess mode, more than the 3 % of an ingest's CPU
that metrics may take: docs/performance.md). When ``serve`` runs several workers, or
deliveries run in ``switchboard worker``, each process writes its totals every second to a
JSON file under ``PROMETHEUS_MULTIPROC_DIR`` (``configure_multiprocess``) and ``/metrics`` in
any process sums them all.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import threading
from bisect import bisect_left
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

ENV = "PROMETHEUS_MULTIPROC_DIR"
FLUSH_SECONDS = 1.0
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DELIVERY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
# family: (kind, help, label names, buckets)
FAMILIES: dict[str, tuple[str, str, tuple[str, ...], tuple[float, ...]]] = {
    "switchboard_http_request_duration_seconds": (
        "histogram", "HTTP request latency by route template, method and status", ("route", "method", "status"),
        LATENCY_BUCKETS,
    ),
    "switchboard_messages_ingested": ("counter", "Messages stored (duplicates excluded) by platform", ("platform",), ()),
    "switchboard_delivery_attempts": ("counter", "Delivery attempts by destination and outcome (delivered, retry, dead)",
                                      ("destination", "outcome"), ()),
    "switchboard_delivery_duration_seconds": ("histogram", "Time of one delivery attempt by destination",
                                              ("destination",), DELIVERY_BUCKETS),
    "switchboard_delivery_retries": ("counter", "Attempts that failed and were scheduled again", ("destination",), ()),
    "switchboard_stored_hook_failures": ("counter", "Runs of a plugin's switchboard_messages_stored hook that raised",
                                         ("plugin",), ()),
    "switchboard_stored_hooks_given_up": ("counter", "Messages whose plugin's stored-message hook was given up",
                                          ("plugin",), ()),
}  # fmt: skip
REQUESTS = "switchboard_http_request_duration_seconds"


def configure_multiprocess(data_dir: str | os.PathLike[str]) -> Path:
    """Share metrics between this process and its children through files under ``data_dir``.

    Call before the first metric is recorded (the CLI does, for ``serve`` and ``worker``); an
    existing ``PROMETHEUS_MULTIPROC_DIR`` is kept. Children inherit it through the environment.
    """
    folder = Path(os.environ.get(ENV) or Path(data_dir) / "prometheus")
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(folder)
    return folder


class Metrics:
    """This process's totals: counters by (family, labels) and histograms as bucket counts."""

    def __init__(self) -> None:
        folder = os.environ.get(ENV)
        self.folder = Path(folder) if folder else None
        self.counters: dict[str, dict[tuple[str, ...], float]] = {
            name: {} for name, spec in FAMILIES.items() if spec[0] == "counter"
        }
        # Each histogram value: one count per bucket (and +Inf), then sum, then count.
        self.histograms: dict[str, dict[tuple[str, ...], list[float]]] = {
            name: {} for name, spec in FAMILIES.items() if spec[0] == "histogram"
        }
        self._requests = self.histograms[REQUESTS]
        self._ingested = self.counters["switchboard_messages_ingested"]
        if self.folder is not None:
            self._file = self.folder / f"switchboard-{os.getpid()}.json"
            threading.Thread(target=self._flush_forever, name="metrics-flush", daemon=True).start()
            atexit.register(self.flush)

    def _observe(self, family: dict[tuple[str, ...], list[float]], key: tuple[str, ...], bounds: tuple[float, ...],
                 value: float) -> None:  # fmt: skip
        row = family.get(key)
        if row is None:
            row = family[key] = [0.0] * (len(bounds) + 3)
        row[bisect_left(bounds, value)] += 1
        row[-2] += value
        row[-1] += 1

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one finished HTTP request (its count is the histogram's count)."""
        self._observe(self._requests, (route, method, str(status)), LATENCY_BUCKETS, seconds)

    def ingest(self, platform: str, count: int) -> None:
        """Count ``count`` new messages of ``platform``."""
        key = (platform,)
        self._ingested[key] = self._ingested.get(key, 0.0) + count

    def attempt(self, destination: str, outcome: str, seconds: float) -> None:
        """Count one delivery attempt (``delivered``, ``retry`` or ``dead``) and its duration."""
        attempts = self.counters["switchboard_delivery_attempts"]
        attempts[(destination, outcome)] = attempts.get((destination, outcome), 0.0) + 1
        self._observe(self.histograms["switchboard_delivery_duration_seconds"], (destination,), DELIVERY_BUCKETS, seconds)
        if outcome == "retry":
            retries = self.counters["switchboard_delivery_retries"]
            retries[(destination,)] = retries.get((destination,), 0.0) + 1

    def stored_hook_failed(self, plugin: str) -> None:
        """Count a run of ``plugin``'s stored-message hook that raised."""
        self._add("switchboard_stored_hook_failures", (plugin,), 1)

    def stored_hooks_given_up(self, plugin: str, messages: int) -> None:
        """Count messages whose ``plugin``'s stored-message hook was given up."""
        self._add("switchboard_stored_hooks_given_up", (plugin,), messages)

    def _add(self, family: str, key: tuple[str, ...], amount: float) -> None:
        counts = self.counters[family]
        counts[key] = counts.get(key, 0.0) + amount

    def snapshot(self) -> dict[str, list[list[Any]]]:
        """Every series as ``[labels, value]`` (a counter) or ``[labels, buckets…, sum, count]``."""
        data: dict[str, list[list[Any]]] = {}
        for name, counts in self.counters.items():
            data[name] = [[list(k), v] for k, v in list(counts.items())]
        for name, rows in self.histograms.items():
            data[name] = [[list(k), list(v)] for k, v in list(rows.items())]
        return data

    def flush(self) -> None:
        """Write this process's totals to its file (atomically: readers never see half a file)."""
        if self.folder is None:
            return
        temporary = self._file.with_suffix(".tmp")
        with contextlib.suppress(OSError):
            temporary.write_text(json.dumps(self.snapshot()))
            temporary.replace(self._file)

    def _flush_forever(self) -> None:
        stop = threading.Event()
        while not stop.wait(FLUSH_SECONDS):
            self.flush()

    def exposition(self) -> bytes:
        """Every process's metrics in Prometheus's text format."""
        snapshots = [self.snapshot()]
        if self.folder is not None:
            self.flush()
            snapshots = []
            for path in sorted(self.folder.glob("switchboard-*.json")):
                with contextlib.suppress(OSError, ValueError):
                    snapshots.append(json.loads(path.read_text()))
        registry = CollectorRegistry()
        registry.register(_Totals(snapshots))
        return generate_latest(registry)


class _Totals:
    """A collector summing snapshots of several processes."""

    def __init__(self, snapshots: list[dict[str, list[list[Any]]]]) -> None:
        self.snapshots = snapshots

    def collect(self) -> Iterator[Metric]:
        for name, (kind, help_text, labels, bounds) in FAMILIES.items():
            totals: dict[tuple[str, ...], Any] = {}
            for snapshot in self.snapshots:
                for key, value in snapshot.get(name, []):
                    k = tuple(key)
                    if kind == "counter":
                        totals[k] = totals.get(k, 0.0) + value
                    else:
                        row = totals.setdefault(k, [0.0] * len(value))
                        for i, v in enumerate(value):
                            row[i] += v
            if kind == "counter":
                counter = CounterMetricFamily(name, help_text, labels=list(labels))
                for k, v in totals.items():
                    counter.add_metric(list(k), v)
                yield counter
                continue
            histogram = HistogramMetricFamily(name, help_text, labels=list(labels))
            for k, row in totals.items():
                cumulative, buckets = 0.0, []
                for bound, count in zip([*map(str, bounds), "+Inf"], row[:-2], strict=True):
                    cumulative += count
                    buckets.append((bound, cumulative))
                histogram.add_metric(list(k), buckets, row[-2])
            yield histogram
            if name == REQUESTS:
                requests = CounterMetricFamily(
                    "switchboard_http_requests", "HTTP requests by route template, method and status", labels=list(labels)
                )
                for k, row in totals.items():
                    requests.add_metric(list(k), row[-1])
                yield requests


_metrics: Metrics | None = None


def metrics() -> Metrics:
    """This process's metrics (created on first use, in the mode the environment says)."""
    global _metrics
    if _metrics is None:
        _metrics = Metrics()
    return _metrics
