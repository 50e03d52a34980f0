"""Helpline cases as the helpline posts them, and driving them through the gateway."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from core.testing import GatewayClient, api_key_headers, hmac_sha256, settle, user_headers


def new_case(uid: str = "HL-1001", **fields: Any) -> dict[str, Any]:
    """A complete case create, as the helpline sends it."""
    case: dict[str, Any] = {
        "src": "call",
        "src_uid": uid,
        "src_callid": f"CALL-{uid}",
        "src_address": "+256700100200",
        "src_ts": "1735689600.5",
        "session_id": "sess-77",
        "narrative": "Worker's passport held by employer; wages unpaid for 3 months.",
        "case_category": "Labour exploitation",
        "clients_case": [
            {
                "fname": "Aisha N.",
                "phone": "+256700100200",
                "email": "aisha@example.org",
                "national_id": "CM900112233",
                "passport": "B1234567",
                "country": "Saudi Arabia",
                "city": "Riyadh",
            }
        ],
        "perpetrators_case": [
            {
                "fname": "Mr. K",
                "phone": "+966500000001",
                "employer": "Desert Homes Ltd",
                "employer_number": "EMP-4411",
                "sector": "Domestic work",
                "location": "Riyadh, Al Olaya",
            }
        ],
    }
    case.update(fields)
    return case


async def helpline_headers(client: GatewayClient) -> dict[str, str]:
    """An API key bound to the helpline platform (what the helpline is given)."""
    return await api_key_headers(client.gateway, [], platform="helpline")


async def post_case(client: GatewayClient, case: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    """Post a case to /webhooks/helpline; asserts the status and returns the JSON answer."""
    r = await client.post(
        "/webhooks/helpline",
        content=json.dumps(case).encode(),
        headers={"Content-Type": "application/json", **(headers or await helpline_headers(client))},
    )
    assert r.status_code == status, r.text
    return r.json()


def signed(secret: str, body: bytes, header: str = "X-Signature") -> dict[str, str]:
    return {header: f"sha256={hmac_sha256(secret, body)}", "Content-Type": "application/json"}


async def case_status(client: GatewayClient, reference: str, *, status: int = 200) -> Any:
    headers = await api_key_headers(client.gateway, ["ceemis:read"])
    r = await client.get(f"/plugins/ceemis/cases/{reference}", headers=headers)
    assert r.status_code == status, r.text
    return r.json()


async def delivery(client: GatewayClient, delivery_id: str) -> Any:
    """A delivery with its attempts, from the JSON API."""
    r = await client.get(f"/api/deliveries/{delivery_id}", headers=await user_headers(client.gateway, "admin"))
    assert r.status_code == 200, r.text
    return r.json()


async def stored_messages(client: GatewayClient) -> list[Any]:
    r = await client.get("/api/messages", headers=await user_headers(client.gateway, "admin"))
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def run_until(
    client: GatewayClient, condition: Callable[[], Awaitable[bool]], *, timeout: float = 30.0
) -> None:
    """Let deliveries run (local workers, or arq bursts) until ``condition`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError("the condition did not come true")
        await settle(client.gateway, timeout=timeout)
