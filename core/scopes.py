"""Reading an ASGI scope: a header, the client's address. Shared by the web layer and auth."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def header(scope: Mapping[str, Any], name: bytes) -> str | None:
    """The first value of header ``name`` (lower case, as ASGI servers give names), or ``None``.

    A scan of the raw list: the middleware asks for one or two headers of every request, and
    building a ``Headers`` mapping for each costs more than the lookup.
    """
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


def client_address(scope: Mapping[str, Any]) -> str | None:
    """The address of the client (after the trusted proxy headers were applied), if known."""
    client = scope.get("client")
    return client[0] if client else None
