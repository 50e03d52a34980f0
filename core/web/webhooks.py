"""``/webhooks/{platform}``: the one entry point of every inbound adapter."""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core.auth.permissions import requires
from core.config.logging import traceback_of
from core.errors import AuthenticationError, BadRequest, HTTPError, NotFound
from core.scopes import client_address
from core.web.requests import gateway_of, parse_json

if TYPE_CHECKING:
    from core.contracts import Adapter
    from core.gateway import Gateway

log = logging.getLogger("switchboard.webhooks")


@requires(public=True)  # each adapter authenticates its own platform's requests
async def webhook(request: Request) -> Response:
    """Receive a platform's webhook (POST), answer its verification handshake (GET) or a CORS
    preflight (OPTIONS, for adapters that have one)."""
    gateway = gateway_of(request)
    platform = request.path_params["platform"]
    adapter = gateway.adapters.get(platform)
    if adapter is None:
        raise NotFound(f"no enabled adapter for platform {platform!r}")
    request.state.audit_actor = f"adapter:{platform}"
    if request.method == "GET":
        answer = await adapter.verify(request)
        if answer is None:
            raise HTTPError("this platform has no verification handshake", status_code=405)
        return answer
    if request.method == "OPTIONS":
        answer = await adapter.preflight(request)
        if answer is None:
            raise HTTPError("this platform takes no requests from web pages", status_code=405)
        return answer
    extra_headers = await adapter.response_headers(request)
    if not extra_headers:
        return await _receive(request, gateway, adapter, platform)
    try:
        response = await _receive(request, gateway, adapter, platform)
    except HTTPError as err:
        err.headers = {**(err.headers or {}), **extra_headers}
        raise
    response.headers.update(extra_headers)
    return response


async def _receive(request: Request, gateway: Gateway, adapter: Adapter, platform: str) -> Response:
    started = time.perf_counter()
    body = await request.body()
    try:
        await adapter.authenticate(request, body)
    except AuthenticationError as err:
        gateway.audit.record(
            "auth",
            action="webhook_rejected",
            actor=f"adapter:{platform}",
            actor_type="adapter",
            request_id=request.state.request_id,
            method="POST",
            path=request.scope["path"],
            status=err.status_code,
            client=client_address(request.scope),
            error=str(err),
        )
        raise HTTPError(str(err), status_code=err.status_code) from err
    try:
        items = await adapter.parse(request, body)
    except HTTPError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as err:
        # A payload the adapter could not make sense of; the traceback is for the log.
        log.warning("adapter %s could not parse a request: %s", platform, traceback_of(err))
        raise HTTPError(f"malformed {platform} payload: {err}", status_code=400) from err

    principal = getattr(request.state, "principal", None)
    audit = gateway.audit.row(
        "webhook",
        action="received",
        request_id=request.state.request_id,
        actor=principal.label if principal else f"adapter:{platform}",
        actor_type=principal.kind if principal else "adapter",
        method="POST",
        path=request.scope["path"],
        status=200,
        client=client_address(request.scope),
        duration_ms=(time.perf_counter() - started) * 1000,
        detail={"messages": len(items)}
        | (
            {"payload": gateway.audit.payload(_json_or_none(body), adapter.redact_keys)}
            if gateway.settings.audit.capture_payloads
            else {}
        ),
    )
    stored = await gateway.ingest.submit(items, audit=audit)
    request.state.audited = True  # the row above went in with the messages
    custom = adapter.respond(items, stored=stored) if _takes_stored(adapter) else adapter.respond(items)
    if custom is not None:
        return custom
    return JSONResponse(
        {
            "received": len(items),
            "stored": sum(1 for s in stored if not s.duplicate),
            "duplicates": sum(1 for s in stored if s.duplicate),
            "messages": [
                {"id": str(s.message_id), "duplicate": s.duplicate, "deliveries": [str(d) for d in s.delivery_ids]}
                for s in stored
            ],
        }
    )


def _takes_stored(adapter: Adapter) -> bool:
    """Whether this adapter's ``respond`` accepts ``stored=`` (an override written before 1.2 does not)."""
    return _respond_takes_stored(type(adapter).respond)


@functools.cache
def _respond_takes_stored(respond: Callable[..., object]) -> bool:
    parameters = inspect.signature(respond).parameters.values()
    return any(p.name == "stored" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def _json_or_none(body: bytes) -> object:
    try:
        return parse_json(body)
    except BadRequest:
        return None


def webhook_routes() -> list[BaseRoute]:
    return [Route("/webhooks/{platform}", webhook, methods=["GET", "POST", "OPTIONS"])]


_PLATFORM_ATTR = "__switchboard_webhook_platform__"


def webhook_route(path: str, platform: str, *, methods: Sequence[str] = ("POST",)) -> Route:
    """A route at ``path`` serving ``platform``'s adapter exactly as ``/webhooks/<platform>`` does.

    For a compatibility layer whose clients post to the old system's webhook URL: the adapter
    verifies (GET), authenticates and parses as usual, and like ``/webhooks/…`` the path is left
    out of the API rate limit and a platform's own ``Authorization`` header is the adapter's
    business. ``path`` is literal (no parameters); mount it with ``at_root``. A method other than
    GET and OPTIONS is received as a POST is (a PUT the old system took, say).
    """
    if "{" in path:
        raise ValueError(f"webhook_route: {path!r} must be a literal path")

    @requires(public=True)  # the adapter authenticates its platform's requests
    async def alias(request: Request) -> Response:
        request.scope["path_params"] = {**request.path_params, "platform": platform}
        return await webhook(request)

    alias.__doc__ = f"The {platform} adapter, as at /webhooks/{platform}."
    setattr(alias, _PLATFORM_ATTR, platform)
    return Route(path, alias, methods=list(methods))


def webhook_platform_of(endpoint: object) -> str | None:
    """The platform a ``webhook_route`` endpoint serves; ``None`` for any other endpoint."""
    return getattr(endpoint, _PLATFORM_ATTR, None)
