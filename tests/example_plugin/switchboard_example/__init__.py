"""An example third-party plugin: an inbound adapter, a destination and a route.

It imports nothing from ``core`` but its public API.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import (
    Adapter,
    AuthenticationError,
    BadRequest,
    DeliveryInfo,
    DeliveryResult,
    Destination,
    Gateway,
    StandardMessage,
    hookimpl,
    parse_json,
    requires,
)


class EchoAdapter(Adapter):
    """Accepts ``{"id": …, "from": …, "text": …}`` items signed with a shared token."""

    name = "echo"

    def __init__(self, token: str) -> None:
        self.token = token

    async def authenticate(self, request: Request, body: bytes) -> None:
        given = request.headers.get("x-echo-token", "")
        if not hmac.compare_digest(given, self.token):
            raise AuthenticationError("bad echo token")

    async def parse(self, request: Request, body: bytes) -> list[StandardMessage]:
        items = parse_json(body)
        if not isinstance(items, list):
            raise BadRequest("expected a JSON list")
        return [
            StandardMessage(
                platform="echo", external_id=str(i["id"]), kind="text", sender=i.get("from"), text=i.get("text"), raw=i
            )
            for i in items
        ]


class MemoryDestination(Destination):
    """Keeps what it is given (for the tests that install this package)."""

    name = "memory"

    def __init__(self) -> None:
        self.received: list[StandardMessage] = []

    async def deliver(self, message: StandardMessage, delivery: DeliveryInfo) -> DeliveryResult:
        self.received.append(message)
        return DeliveryResult(status_code=200, remote_ref=f"mem-{len(self.received)}")


@requires("viewer")
async def hello(request: Request) -> Response:
    """Say hello to the signed-in caller."""
    return JSONResponse({"hello": request.state.principal.name})


@hookimpl
def switchboard_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    token = config.get("token", "example-token")
    if not isinstance(token, str) or len(token) < 8:
        raise ValueError("token: expected a string of at least 8 characters")
    return {"token": token}


@hookimpl
def switchboard_adapters(gateway: Gateway) -> list[Adapter]:
    return [EchoAdapter(gateway.plugin_config("example")["token"])]


@hookimpl
def switchboard_destinations() -> list[Destination]:
    return [MemoryDestination()]


@hookimpl
def switchboard_routes() -> list[Route]:
    return [Route("/hello", hello)]
