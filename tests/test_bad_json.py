"""JSON no store can hold is a 400 on every body-reading route, before an account is needed:
nesting too deep for the parser (2 KB of brackets) and lone UTF-16 surrogates."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import pytest

from core.testing import GatewayClient, user_headers
from tests.whatsapp.support import APP_SECRET, signed

NESTED = b"[" * 1000 + b"]" * 1000
SURROGATE = b'{"text": "\\ud800"}'
NOWHERE = "http://127.0.0.1:9"
SOME_ID = str(uuid.UUID(int=1))

PATHS = [
    "/api/auth/token",
    "/api/auth/refresh",
    "/api/users",
    "/api/api-keys",
    "/api/deliveries/requeue",
    "/api/deliveries/purge",
    f"/api/conversations/{SOME_ID}/messages",
    "/plugins/dhis2/aggregate",
    "/plugins/dhis2/tracker",
    "/webhooks/echo",
]


@pytest.fixture
async def gw(example_installed: None, app_client) -> AsyncIterator[GatewayClient]:  # type: ignore[no-untyped-def]
    plugins = {
        "whatsapp": {"app_secret": APP_SECRET, "verify_token": "v", "graph_base_url": NOWHERE},
        "dhis2": {"instances": {"national": {"base_url": NOWHERE, "token": "t"}}},
    }
    async with app_client(plugins=plugins) as client:
        client.headers.update(await user_headers(client.gateway, "admin"))
        client.headers["x-echo-token"] = "example-token"
        client.headers["content-type"] = "application/json"
        yield client


def no_traceback(caplog: pytest.LogCaptureFixture) -> bool:
    return not any(r.exc_info for r in caplog.records if r.levelno >= logging.ERROR)


@pytest.mark.parametrize("path", PATHS)
async def test_deeply_nested_json_is_a_400(gw: GatewayClient, path: str, caplog: pytest.LogCaptureFixture) -> None:
    r = await gw.post(path, content=NESTED)
    assert r.status_code == 400, r.text
    assert no_traceback(caplog)


@pytest.mark.parametrize("path", PATHS)
async def test_a_lone_surrogate_is_a_400(gw: GatewayClient, path: str, caplog: pytest.LogCaptureFixture) -> None:
    body = b"[" + SURROGATE.replace(b"{", b'{"id": "s1", ', 1) + b"]" if path == "/webhooks/echo" else SURROGATE
    r = await gw.post(path, content=body)
    assert r.status_code == 400, r.text
    assert no_traceback(caplog)


@pytest.mark.parametrize("body", [NESTED, b'{"object": "whatsapp_business_account", "entry": [], "x": "\\udfff"}'])
async def test_the_whatsapp_webhook_refuses_json_no_store_can_hold(gw: GatewayClient, body: bytes) -> None:
    r = await gw.post("/webhooks/whatsapp", content=body, headers=signed(body, APP_SECRET))
    assert r.status_code == 400, r.text
