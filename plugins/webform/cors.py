"""CORS for the web form's routes: answers only for the origins of a known organisation.

A preflight names no organisation, so it is answered for the origin of any organisation; the
form's POST is then checked against its own organisation's origins (``origin_allowed``). A
request without ``Origin`` is not from a browser page and is left alone.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from core import BadRequest, Forbidden, HTTPError, gateway_of
from plugins.webform import organisations

ALLOW_HEADERS = "Authorization, Content-Type"
MAX_AGE = "600"


def origin_of(request: Request) -> str | None:
    origin = request.headers.get("origin")
    return origin.rstrip("/").lower() if origin else None


async def headers_for(request: Request) -> dict[str, str]:
    """CORS headers for the request's origin when an organisation allows it; else none."""
    origin = origin_of(request)
    if origin is None or origin not in await organisations.all_origins(gateway_of(request)):
        return {}
    return {"Access-Control-Allow-Origin": request.headers["origin"], "Vary": "Origin"}


async def preflight(request: Request) -> Response:
    """204 with the CORS grant for an allowed origin; 403 (without one) otherwise."""
    if origin_of(request) is None:
        raise BadRequest("not a CORS preflight: the Origin header is missing")
    headers = await headers_for(request)
    if not headers:
        raise Forbidden("this origin may not post web forms here")
    return Response(
        status_code=204,
        headers={
            **headers,
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": MAX_AGE,
        },
    )


def origin_allowed(request: Request, origins: tuple[str, ...]) -> bool:
    """Whether the request may come from where it says (no ``Origin``: not a browser page)."""
    origin = origin_of(request)
    return origin is None or origin in origins


Endpoint = Callable[[Request], Awaitable[Response]]


def with_cors(endpoint: Endpoint) -> Endpoint:
    """Answer OPTIONS with ``preflight`` and add the CORS headers to every other answer, errors too."""

    @functools.wraps(endpoint)  # keeps its docstring and OpenAPI description
    async def cors_endpoint(request: Request) -> Response:
        if request.method == "OPTIONS":
            return await preflight(request)
        headers = await headers_for(request)
        try:
            response = await endpoint(request)
        except HTTPError as err:
            err.headers = {**(err.headers or {}), **headers}
            raise
        response.headers.update(headers)
        return response

    return cors_endpoint
