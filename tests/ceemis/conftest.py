"""Fixtures of the CEEMIS plugin's tests: a fake CEEMIS on loopback and apps configured for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.ceemis.fake_ceemis import TOKEN, FakeCEEMIS, running_fake_ceemis


@pytest.fixture
async def ceemis() -> AsyncIterator[FakeCEEMIS]:
    async with running_fake_ceemis() as fake:
        yield fake


def ceemis_config(fake: FakeCEEMIS, **plugin: Any) -> dict[str, Any]:
    """A ``[plugins.ceemis]`` table pointing at the fake, with waits short enough for a test."""
    return {
        "create_url": fake.create_url,
        "update_url": fake.update_url,
        "token": TOKEN,
        "wait_min": 0.05,
        "wait_max": 0.2,
        **plugin,
    }


@pytest.fixture
def ceemis_app(app_client: Callable[..., Any], ceemis: FakeCEEMIS) -> Callable[..., Any]:
    """``async with ceemis_app(defaults={...}) as client``: helpline cases routed to the fake CEEMIS."""

    def open_app(*, routes: list[Any] | None = None, http: dict[str, Any] | None = None, **plugin: Any) -> Any:
        plugins: dict[str, Any] = {"ceemis": ceemis_config(ceemis, **plugin)}
        if http is not None:
            plugins["http"] = http
        return app_client(
            plugins=plugins,
            routes=routes if routes is not None else [{"source": "helpline", "destinations": ["ceemis"]}],
            # Retries a tenth of a second apart, so that a retried delivery settles in a test. No
            # circuit breaker: a test that keeps CEEMIS failing (503 for every create until it
            # heals) would trip it after five failures and pause every CEEMIS delivery for its
            # cool-down, longer than `settle` waits, whenever a loaded host made the test slow to
            # look (tests/test_breaker.py covers the breaker, CEEMIS's "waiting" included).
            delivery={"backoff_base": 0.1, "jitter": 0, "breaker": {"failures": 0}},
        )

    return open_app
