"""Pytest fixtures for plugin packages, registered through the ``pytest11`` entry point ``switchboard``.

    async def test_signed_webhook_is_delivered(gateway_http, receiver, switchboard_config):
        ...

- ``switchboard_config``: the settings sections of this test's gateway (a dict to change before
  the gateway is used), merged from ``@pytest.mark.switchboard(routes=…, plugins=…)``.
- ``switchboard_plugins``: in-process plugins to register, ``[(name, module)]`` (default none).
- ``switchboard_installed``: which installed plugins (entry points) the gateway loads besides
  those with a ``[plugins.<name>]`` table in ``switchboard_config`` (default
  ``core.testing.default_installed``, empty unless a conftest.py names some; ``"all"``:
  every installed plugin, as production does). Another installed plugin, which may need
  settings this test does not give, is left alone. ``@pytest.mark.switchboard(installed=[…])``
  says it per test.
- ``gateway_http``: an HTTP client of the app (``httpx.AsyncClient``; ``.gateway`` is its gateway),
  on SQLite in the test's temporary folder and the in-process queue, migrated and started.
  Nothing runs in the background: ``core.testing.drain(gateway)`` runs the due deliveries.
- ``gateway``: that gateway.
- ``receiver``: a real HTTP server on loopback recording requests (``core.testing.Receiver``).

The names avoid the gateway's own test fixtures (``client``, ``app_client``, ``stack``) so that
this plugin loads beside them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.config.settings import _merge
from core.gateway import Gateway
from core.testing import GatewayClient, gateway_client, make_settings
from core.testkit.receiver import Receiver, running_receiver

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the kit's async fixtures need it; say so where used
    pytest_asyncio = None  # type: ignore[assignment]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "switchboard(**sections): settings sections for the test's gateway (routes, plugins, delivery, …)"
    )


@pytest.fixture
def switchboard_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The settings sections of this test's gateway: the markers' merged, then yours to change."""
    sections: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("switchboard"))):
        sections = _merge(sections, marker.kwargs)
    return sections


@pytest.fixture
def switchboard_plugins() -> list[tuple[str, object]]:
    """Plugins to register in-process (default: none)."""
    return []


@pytest.fixture
def switchboard_installed() -> list[str] | str | None:
    """Installed plugins to load besides those configured in ``[plugins.<name>]`` (``"all"``: every
    one; ``None``: ``core.testing.default_installed``)."""
    return None


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def gateway_http(
        tmp_path: Path,
        switchboard_config: dict[str, Any],
        switchboard_plugins: list[tuple[str, object]],
        switchboard_installed: list[str] | str | None,
    ) -> AsyncIterator[GatewayClient]:
        """A client of a migrated, started app on SQLite in ``tmp_path`` with the in-process queue."""
        sections = {"installed": switchboard_installed, **switchboard_config}  # a marker's installed= wins
        settings = make_settings(tmp_path, **sections)
        async with gateway_client(settings, plugins=switchboard_plugins, run_queue=False) as client:
            yield client

    @pytest_asyncio.fixture
    async def gateway(gateway_http: GatewayClient) -> Gateway:
        """The gateway of ``gateway_http``."""
        return gateway_http.gateway

    @pytest_asyncio.fixture
    async def receiver() -> AsyncIterator[Receiver]:
        """A real HTTP server on loopback that records requests and answers as told."""
        async with running_receiver() as running:
            yield running
