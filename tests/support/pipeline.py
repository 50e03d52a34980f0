"""A gateway for tests of what is stored and claimed, on either stack.

Driving deliveries to completion is ``core.testing.settle``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from core.gateway import Gateway


@contextlib.asynccontextmanager
async def sink_gateway(stack: Any, source: str, **sections: Any) -> AsyncIterator[Gateway]:
    """A started gateway (no queue consumer) routing ``source`` to an HTTP destination
    ``sink`` that nothing answers: for tests of what is stored and claimed."""
    settings = stack.settings(routes=[{"source": source, "destinations": ["sink"]}], **sections)
    settings.plugins["http"] = {"destinations": {"sink": {"url": "http://127.0.0.1:9/"}}}
    gateway = Gateway(settings)
    await gateway.start(run_queue=False)
    try:
        yield gateway
    finally:
        await gateway.close()
