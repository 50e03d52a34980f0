"""Posting to the example plugin's ``echo`` adapter (tests/example_plugin)."""

from __future__ import annotations

import json
from typing import Any

from core.testing import GatewayClient

HEADERS = {"x-echo-token": "example-token"}


async def post_echo(client: GatewayClient, *items: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/webhooks/echo", content=json.dumps(list(items)).encode(), headers=HEADERS)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def item(external_id: str, sender: str = "+255700000001", text: str = "hello") -> dict[str, str]:
    return {"id": external_id, "from": sender, "text": text}
