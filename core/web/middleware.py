"""Pure-ASGI middleware: request ids and the error boundary, body limits, authentication."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.auth.permissions import DEFERRED_BASIC
from core.config.logging import request_id_var
from core.errors import HTTPError
from core.scopes import header
from core.untrusted import bounded_int
from core.web.responses import error_response

log = logging.getLogger("switchboard.http")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


RequestObserver = Callable[[Scope, int, float, str | None], Awaitable[None]]


class RequestContext:
    """Gives every request an id (``X-Request-ID``, taken from the caller when sane).

    It is also the error boundary: an unhandled exception becomes a JSON 500 carrying the
    request id, its traceback goes to the log only. ``observe`` is told of every finished
    request (the audit log).
    """

    def __init__(self, app: ASGIApp, observe: RequestObserver | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = header(scope, b"x-request-id") or ""
        request_id = given if _SAFE_ID.match(given) else os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        error: str | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                # No answer is to be sniffed into another type (an error body rendered as HTML).
                headers["X-Content-Type-Options"] = "nosniff"
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if not response_started:
                response = error_response(500, "internal error", request_id=request_id)
                await response(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
            if self.observe is not None:
                await self.observe(scope, status, (time.perf_counter() - started) * 1000, error)


UNMIGRATED = "the database is not migrated; run `switchboard db upgrade`"
# What answers before the database is migrated: the probes (``/readyz`` says what is missing) and the API docs.
_NEEDS_NO_TABLES = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs")


class SchemaGate:
    """Until the database is migrated, every request but the probes and docs is a 503 with the hint.

    Without it each request fails on a missing table: a 500 for the caller, a traceback in the
    log, and an audit row that cannot be written (another traceback, again and again). Nothing
    is audited for a refused request: the audit table is one of those missing.
    """

    def __init__(self, app: ASGIApp, migrated: Callable[[], Awaitable[bool]]) -> None:
        self.app = app
        self.migrated = migrated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_NEEDS_NO_TABLES) or await self.migrated():
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["audited"] = True
        response = error_response(503, UNMIGRATED, request_id=state.get("request_id"))
        await response(scope, receive, send)


class BodyTooLarge(HTTPError):
    status_code = 413


class BodyLimit:
    """Refuses bodies over ``max_bytes`` with 413, whether announced or streamed.

    A route may accept more (``core.max_body``): its ``Guard`` records the route's limit in
    the request state before the endpoint reads the body. ``ceiling`` (the largest limit of
    any route) is enforced before routing, so an oversized body is refused unread.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, ceiling: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.ceiling = max(max_bytes, ceiling or 0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None:
            length = bounded_int(declared, low=0)
            if length is None:
                await error_response(400, "invalid Content-Length")(scope, receive, send)
                return
            if length > self.ceiling:
                message = f"request body is larger than {self.ceiling} bytes"
                await error_response(413, message)(scope, receive, send)
                return
        state = scope.setdefault("state", {})
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            limit = state.get("max_body_bytes") or self.max_bytes
            if declared is not None and int(declared) > limit:
                raise BodyTooLarge(f"request body is larger than {limit} bytes")
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(f"request body is larger than {limit} bytes")
            return message

        await self.app(scope, limited_receive, send)


Authenticator = Callable[[Scope], Awaitable[Any]]
# Told of every request and its principal (None: anonymous); raises HTTPError (429) to refuse it.
Admitter = Callable[[Scope, Any], Awaitable[None]]


class Authentication:
    """Resolves the caller (bearer token or API key) into ``scope["state"]["principal"]``.

    ``Authorization: Basic`` is left to the route's ``Guard`` (``DEFERRED_BASIC``): only a
    route that declares Basic verifies it, so its rate limit is applied there too.

    It never refuses a request itself: each route's ``Guard`` decides, so that webhooks and
    login stay reachable. A credential that is present but invalid is refused here, though,
    so a bad token is never silently treated as anonymous. ``admit`` (the rate limits) sees
    every request but webhooks with its principal, failed authentications as anonymous.
    """

    def __init__(
        self,
        app: ASGIApp,
        authenticate: Authenticator,
        admit: Admitter | None = None,
        is_webhook: Callable[[str], bool] | None = None,
    ) -> None:
        self.app = app
        self.authenticate = authenticate
        self.admit = admit
        # Paths where an adapter, not the gateway, judges the Authorization header.
        self.is_webhook = is_webhook or (lambda path: path.startswith("/webhooks/"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        refusal: HTTPError | None = None
        principal = None
        try:
            principal = await self.authenticate(scope)
        except HTTPError as exc:
            if self.is_webhook(scope["path"]) or scope["path"] == "/metrics":
                # A platform's own Authorization header is its adapter's business; /metrics checks its own token.
                state["principal"] = None
                await self.app(scope, receive, send)
                return
            refusal = exc
        # A Basic credential is verified (and the request admitted) by its route's guard.
        if self.admit is not None and DEFERRED_BASIC not in state:
            try:
                await self.admit(scope, principal)
            except HTTPError as exc:
                refusal = exc  # too many requests outranks a bad credential: stop guessing
        if refusal is not None:
            await error_response(
                refusal.status_code, str(refusal), request_id=state.get("request_id"), headers=refusal.headers
            )(scope, receive, send)
            return
        state["principal"] = principal
        await self.app(scope, receive, send)
