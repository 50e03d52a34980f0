"""A real HTTP receiver on loopback: the far side of the http destination in tests and bench/.

It records every request and answers as told: ``fail_with`` a status for the next N
requests, or until told otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.serving import free_port, serving

__all__ = ["Receiver", "free_port", "running_receiver"]


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0  # what the receiver answered

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass
class Receiver:
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    failures_left: int | None = None  # None: `status` until changed
    retry_after: str | None = None
    error_body: bytes | None = None  # answered with a failure instead of a JSON error
    delay: float = 0.0
    in_flight: int = 0
    max_in_flight: int = 0

    def fail_with(
        self, status: int, times: int | None = None, retry_after: str | None = None, body: bytes | None = None
    ) -> None:
        self.status, self.failures_left, self.retry_after, self.error_body = status, times, retry_after, body

    def heal(self) -> None:
        self.status, self.failures_left, self.retry_after = 200, None, None

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        received = Received(request.method, request.url.path, dict(request.headers), body)
        self.requests.append(received)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        status = self.status
        if self.failures_left is not None:
            if self.failures_left <= 0:
                status = 200
            self.failures_left -= 1
        received.status = status
        if status >= 300:
            headers = {"Retry-After": self.retry_after} if self.retry_after else None
            if self.error_body is not None:
                return Response(self.error_body, status_code=status, headers=headers, media_type="text/plain")
            return JSONResponse({"error": f"receiver says {status}"}, status_code=status, headers=headers)
        return JSONResponse({"id": f"r-{len(self.requests)}"}, status_code=200)

    def bodies(self) -> list[Any]:
        return [r.json() for r in self.requests]


@asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/{path:path}", receiver.handle, methods=["POST", "PUT", "PATCH"])])
    async with serving(app) as base:
        receiver.url = f"{base}/inbox"
        yield receiver
