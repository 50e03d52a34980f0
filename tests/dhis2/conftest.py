"""Fixtures of the DHIS2 plugin's tests: a fake DHIS2 on loopback and apps configured for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.fakes.dhis2 import FakeDHIS2, running_fake_dhis2
from tests.fakes.dhis2_metadata import TOKEN


@pytest.fixture
async def dhis2() -> AsyncIterator[FakeDHIS2]:
    async with running_fake_dhis2() as fake:
        yield fake


def dhis2_config(fake: FakeDHIS2, *, instance: dict[str, Any] | None = None, **plugin: Any) -> dict[str, Any]:
    """A ``[plugins.dhis2]`` table with one instance, "national", pointing at the fake."""
    return {"instances": {"national": {"base_url": fake.url, "token": TOKEN, **(instance or {})}}, **plugin}


@pytest.fixture
def dhis2_app(app_client: Callable[..., Any], dhis2: FakeDHIS2) -> Callable[..., Any]:
    """``async with dhis2_app(chunk_size=2, instance={...}) as client``: an app whose DHIS2 is the fake."""

    def open_app(
        *,
        instance: dict[str, Any] | None = None,
        routes: list[Any] | None = None,
        delivery: dict[str, Any] | None = None,
        **plugin: Any,
    ) -> Any:
        sections: dict[str, Any] = {
            "plugins": {"dhis2": dhis2_config(dhis2, instance=instance, **plugin)},
            # Retries a tenth of a second apart, so that a retried delivery settles in a test.
            "delivery": {"backoff_base": 0.1, "jitter": 0, **(delivery or {})},
        }
        if routes is not None:
            sections["routes"] = routes
        return app_client(**sections)

    return open_app
