"""ASGI apps the benchmarks run in subprocesses.

- ``bare``: the baseline, a bare Starlette JSON endpoint.
- ``receiver``: the far side of deliveries, answering 200 at once.
- ``gateway``: ``switchboard serve``'s app plus the ``bench`` plugin, whose adapter checks a
  shared token header (an authenticated webhook with no per-request database lookup, as
  most platforms' signature or token schemes are).
"""

from __future__ import annotations

import hmac
import json
import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import Adapter, AuthenticationError, BadRequest, StandardMessage, hookimpl

TOKEN = "bench-token-0123456789"


async def _ok(request: Request) -> Response:
    await request.body()
    return JSONResponse({"ok": True})


bare = Starlette(routes=[Route("/{path:path}", _ok, methods=["GET", "POST"])])
receiver = bare


class BenchAdapter(Adapter):
    name = "bench"

    async def authenticate(self, request: Request, body: bytes) -> None:
        if not hmac.compare_digest(request.headers.get("x-bench-token", ""), TOKEN):
            raise AuthenticationError("bad token")

    async def parse(self, request: Request, body: bytes) -> list[StandardMessage]:
        try:
            item: dict[str, Any] = json.loads(body)
        except ValueError as err:
            raise BadRequest("not JSON") from err
        return [
            StandardMessage(
                platform="bench", external_id=item["id"], kind="text", sender=item["from"], text=item["text"], raw=item
            )
        ]


class BenchPlugin:
    @hookimpl
    def switchboard_adapters(self) -> list[Adapter]:
        return [BenchAdapter()]


def gateway() -> Starlette:
    """uvicorn factory: the gateway configured by ``SWITCHBOARD_CONFIG``, with the bench plugin."""
    from core import create_app, load_settings

    return create_app(load_settings(os.environ["SWITCHBOARD_CONFIG"]), plugins=[("bench", BenchPlugin())])
