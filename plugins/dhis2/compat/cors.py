"""CORS on dhis2gw's API: browser pages of other origins (its logs viewer) call it, as in dhis2gw.

dhis2gw answers every preflight (gin-contrib/cors, all origins). Here each compat path gets an
``OPTIONS`` route answering 204 with the allowed methods and headers, and every answer of a
compat route, errors of its guard included, carries the origin grant. Origins come from
``[plugins.dhis2.compat] cors_origins`` (``*`` by default). A wrong password is refused by
the core before any route, so that 401 carries no grant (docs/dhis2.md says so).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive, Scope, Send

from core import HTTPError, requires

ALLOW_METHODS = "GET,POST,PUT,DELETE,OPTIONS"
ALLOW_HEADERS = "Origin,Content-Type,Authorization"
MAX_AGE = str(12 * 3600)  # dhis2gw's 12 hours


class CorsPolicy:
    """Which origins may call, and the grant each gets."""

    def __init__(self, origins: Sequence[str]) -> None:
        self.any = "*" in origins
        self.origins = frozenset(origins)

    def grant(self, origin: str | None) -> dict[str, str] | None:
        """The headers granting ``origin``; ``None`` when it is not allowed (or absent)."""
        if not origin:
            return None
        if self.any:
            # "*" is never sent with credentials (browsers refuse the pair); the viewer sends none.
            return {"Access-Control-Allow-Origin": "*"}
        if origin.rstrip("/").lower() not in self.origins:
            return None
        return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}

    async def preflight(self, request: Request) -> Response:
        """204 with the grant, the allowed methods and headers; 403 for an origin not allowed."""
        origin = request.headers.get("origin")
        grant = self.grant(origin)
        if origin and grant is None:
            return JSONResponse({"error": "origin not allowed"}, status_code=403)
        headers = {
            **(grant or {}),
            "Access-Control-Allow-Methods": ALLOW_METHODS,
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": MAX_AGE,
        }
        return Response(status_code=204, headers=headers)


class CorsRoute(Route):
    """A route whose every answer carries the CORS grant of the request's origin."""

    def __init__(self, route: Route, policy: CorsPolicy) -> None:
        super().__init__(route.path, route.endpoint, methods=sorted(route.methods or ()), name=route.name)
        self.policy = policy

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"origin"), None)
        grant = self.policy.grant(origin)
        if grant is None:
            await super().handle(scope, receive, send)
            return
        encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in grant.items()]

        async def send_granted(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *encoded]}
            await send(message)

        try:
            await super().handle(scope, receive, send_granted)
        except HTTPError as err:  # the guard's 401/403, answered by the app's handler
            err.headers = {**(err.headers or {}), **grant}
            raise


def with_cors(routes: Sequence[Route], origins: Sequence[str]) -> list[BaseRoute]:
    """``routes`` granting ``origins``, plus one public ``OPTIONS`` route per path; unchanged without origins."""
    if not origins:
        return list(routes)
    policy = CorsPolicy(origins)

    @requires(public=True)
    async def preflight(request: Request) -> Response:
        """A CORS preflight: what a page of another origin may send here."""
        return await policy.preflight(request)

    paths = list(dict.fromkeys(route.path for route in routes))
    return [
        *(CorsRoute(route, policy) for route in routes),
        *(Route(path, preflight, methods=["OPTIONS"]) for path in paths),
    ]
