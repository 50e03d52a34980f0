"""One vocabulary of security events: the names the API, the console and the CLI write, and the docs list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.auth.events import AUTH_EVENTS, record_event
from core.testing import GatewayClient

DOCS = Path(__file__).resolve().parent.parent / "docs" / "security.md"


def test_the_docs_list_exactly_the_event_names() -> None:
    text = DOCS.read_text(encoding="utf-8")
    paragraph = text[text.index("Events: ") :].split("\n\n")[0]
    assert set(re.findall(r"`([a-z_]+)`", paragraph)) == AUTH_EVENTS


async def test_an_event_outside_the_vocabulary_is_refused(app_client: object) -> None:
    async with app_client() as client:  # type: ignore[operator]
        gw: GatewayClient = client
        with pytest.raises(ValueError, match="not an audit event name"):
            record_event(gw.gateway, "user_approve")
