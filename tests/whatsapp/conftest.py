"""Fixtures of the WhatsApp plugin's tests: a fake Graph API and apps configured to use it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.fakes.graph_api import FakeGraph, running_graph
from tests.whatsapp.support import APP_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with running_graph() as fake:
        yield fake


def whatsapp_settings(graph: FakeGraph, **overrides: Any) -> dict[str, Any]:
    """A complete ``[plugins.whatsapp]`` table pointing at the fake Graph API."""
    return {
        "verify_token": VERIFY_TOKEN,
        "app_secret": APP_SECRET,
        "access_token": graph.access_token,
        "phone_number_id": PHONE_NUMBER_ID,
        "graph_base_url": graph.url,
        **overrides,
    }


@pytest.fixture
def whatsapp_client(app_client: Callable[..., Any], graph: FakeGraph) -> Callable[..., Any]:
    """``async with whatsapp_client(mark_read=True, routes=[...]) as client``.

    Keyword arguments that are ``[plugins.whatsapp]`` keys go to that table; the others are
    settings sections (``routes``, ``conversations``, ``audit``, …).
    """
    sections = {"server", "database", "queue", "delivery", "conversations", "audit", "auth", "routes", "plugins"}

    def open_client(**kwargs: Any) -> Any:
        table = {k: v for k, v in kwargs.items() if k not in sections}
        rest = {k: v for k, v in kwargs.items() if k in sections}
        plugins = {**rest.pop("plugins", {}), "whatsapp": whatsapp_settings(graph, **table)}
        return app_client(plugins=plugins, **rest)

    return open_client
