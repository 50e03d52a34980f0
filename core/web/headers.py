"""Headers a browser enforces on the pages the gateway serves: what a page may load, and who may frame it.

The console (``/admin``) loads only its own stylesheet and htmx, with no inline script or style;
Swagger UI (``/docs``) is vendored too but styles its elements inline. Neither may be framed
(clickjacking), nor post a form anywhere else, nor change its base URL.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONSOLE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
# Swagger UI's React components set style attributes, and its icons are data: SVGs.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
)


def page_headers(policy: str) -> dict[str, str]:
    """The headers of a page under ``policy``: the policy, no framing (old browsers too), no sniffing."""
    return {"Content-Security-Policy": policy, "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"}


class SecurityHeaders:
    """Adds ``headers`` to every HTTP response of the app it wraps (those the app set itself win)."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = dict(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
