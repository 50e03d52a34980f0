"""A real HTTP receiver on loopback: the far side of a destination in tests.

It records every request with what it answered, and answers as told: a status for the next N
requests (``fail_with``), with a ``Retry-After`` or a body, after a delay; ``heal`` makes it
answer 200 again.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from core.testkit.waiting import wait_until


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """Serve ``app`` until the block ends; yields its base URL (``http://127.0.0.1:<port>``)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())

    def started() -> bool:
        if task.done():
            task.result()  # it failed to start: say why
        return bool(server.started)

    await wait_until(started, interval=0.01, message=f"uvicorn to serve on port {port}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class Received:
    """One request as the receiver saw it, and the status it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """The recorded requests and how to answer the next ones."""

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
        """Answer ``status`` to the next ``times`` requests (``None``: until ``heal``)."""
        self.status, self.failures_left, self.retry_after, self.error_body = status, times, retry_after, body

    def heal(self) -> None:
        """Answer 200 from now on."""
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
        """Every request's JSON body, in order."""
        return [r.json() for r in self.requests]

    def accepted(self) -> list[Received]:
        """The requests it answered with a 2xx."""
        return [r for r in self.requests if 200 <= r.status < 300]


@asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    """A receiver on a free loopback port; ``receiver.url`` takes POST, PUT and PATCH."""
    receiver = Receiver()
    app = Starlette(routes=[Route("/{path:path}", receiver.handle, methods=["POST", "PUT", "PATCH"])])
    async with serving(app) as base:
        receiver.url = f"{base}/inbox"
        yield receiver
