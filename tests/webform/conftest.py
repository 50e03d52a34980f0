"""Fixtures of the web form's tests: a real SMTP server on loopback and apps configured for it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from core.testing import GatewayClient
from tests.support.smtp import Inbox, smtp_server

ORIGIN = "https://forms.example.org"
ORG = "acme"


@pytest.fixture
async def inbox() -> AsyncIterator[Inbox]:
    async with smtp_server() as served:
        yield served


def mail_config(port: int) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "sender": "switchboard@example.org", "starttls": False, "timeout": 5}


@pytest.fixture
def webform_app(app_client: Callable[..., Any], inbox: Inbox) -> Callable[..., Any]:
    """``async with webform_app(**plugin) as client``: the organisation ``acme`` allowed from ORIGIN."""

    def open_app(
        *,
        routes: list[Any] | None = None,
        http: dict[str, Any] | None = None,
        server: dict[str, Any] | None = None,
        **plugin: Any,
    ) -> Any:
        config = {
            "organisations": {ORG: {"name": "Acme Helpline", "origins": [ORIGIN], "notify": []}},
            **plugin,
        }
        plugins: dict[str, Any] = {"webform": config}
        if http is not None:
            plugins["http"] = http
        return app_client(
            plugins=plugins,
            routes=routes or [],
            mail=mail_config(inbox.port),
            auth={"api_rate_per_minute": 1_000_000},
            server=server or {},
        )

    return open_app


def code_in(inbox: Inbox, index: int = -1) -> str:
    """The 6-digit code of a received mail."""
    _, message = inbox.received[index]
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"\b(\d{6})\b", body.get_content())
    assert found is not None, body.get_content()
    return found.group(1)


async def request_code(client: GatewayClient, email: str = "ann@example.net", org: str = ORG) -> Any:
    return await client.post(
        "/plugins/webform/auth/request-verification", json={"email": email, "organisation": org}
    )


async def verify(client: GatewayClient, code: str, email: str = "ann@example.net", org: str = ORG) -> Any:
    return await client.post(
        "/plugins/webform/auth/verify-otp", json={"email": email, "code": code, "organisation": org}
    )


async def form_token(client: GatewayClient, inbox: Inbox, email: str = "ann@example.net") -> str:
    """A form token, the way a user gets one: a code by e-mail, then verified."""
    r = await request_code(client, email)
    assert r.status_code == 202, r.text
    r = await verify(client, code_in(inbox), email)
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token
