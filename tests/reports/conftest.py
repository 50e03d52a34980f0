"""Fixtures of the reports tests: a real SMTP server on loopback and apps that mail scheduled reports to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.reports.schedule_steps import PUBLIC_URL
from tests.support.smtp import Inbox, smtp_server


@pytest.fixture
async def inbox() -> AsyncIterator[Inbox]:
    async with smtp_server() as served:
        yield served


@pytest.fixture
def schedule_app(app_client: Callable[..., Any], inbox: Inbox) -> Callable[..., Any]:
    """``async with schedule_app(schedules=[...], **reports) as client``: mail to ``inbox``, links under PUBLIC_URL."""

    def open_app(*, extra_plugins: list[tuple[str, object]] | None = None, **reports: Any) -> Any:
        mail = {"host": "127.0.0.1", "port": inbox.port, "sender": "reports@example.org", "starttls": False}
        return app_client(
            plugins={"reports": {"public_url": PUBLIC_URL, **reports}},
            mail=mail,
            extra_plugins=extra_plugins,
        )

    return open_app
