"""dhis2gw's answer conventions, shared by the compatibility routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import JSONResponse


def error(message: str, status: int, **extra: Any) -> JSONResponse:
    """dhis2gw's error body: ``{"error": "…"}`` (plus ``detail`` or ``details`` where it adds them)."""
    return JSONResponse({"error": message, **extra}, status_code=status)


def go_time(value: datetime | None) -> str:
    """A time as Go writes ``time.Time`` (RFC 3339, UTC as ``Z``); Go's zero time for None."""
    if value is None:
        return "0001-01-01T00:00:00Z"
    return value.isoformat().replace("+00:00", "Z")
