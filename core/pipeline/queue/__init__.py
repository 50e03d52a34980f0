"""Queue backends: ``local`` (in-process, the embedded default) and ``arq`` (Redis)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.pipeline.queue.base import QueueBackend

if TYPE_CHECKING:
    from core.gateway import Gateway


def make_queue(gateway: Gateway) -> QueueBackend:
    if gateway.settings.queue.backend == "arq":
        from core.pipeline.queue.arq_backend import ArqQueue

        return ArqQueue(gateway)
    from core.pipeline.queue.local import LocalQueue

    return LocalQueue(gateway)


__all__ = ["QueueBackend", "make_queue"]
