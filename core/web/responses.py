"""JSON error bodies: every error the gateway answers has the same shape.

``{"error": "<message>", "errors": [{"field": …, "message": …}], "request_id": "…"}``
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.errors import AuthenticationError, HTTPError

log = logging.getLogger("switchboard.http")


def error_response(
    status: int,
    message: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if errors:
        body["errors"] = errors
    if request_id:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status, headers=headers)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def validation_errors(err: ValidationError) -> list[dict[str, Any]]:
    """pydantic errors as ``[{"field": "a.b", "message": …}]``."""
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
        for e in err.errors(include_url=False)
    ]


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    return error_response(
        exc.status_code, str(exc), errors=exc.errors, request_id=_request_id(request), headers=exc.headers
    )


async def handle_authentication(request: Request, exc: Exception) -> Response:
    """A plugin's route that checks credentials itself raises ``core.AuthenticationError``: 401 or 403."""
    assert isinstance(exc, AuthenticationError)
    return error_response(exc.status_code, str(exc), request_id=_request_id(request))


async def handle_starlette_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "not found", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
    return error_response(exc.status_code, message, request_id=_request_id(request), headers=exc.headers)


async def handle_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    return error_response(422, "invalid request", errors=validation_errors(exc), request_id=_request_id(request))


EXCEPTION_HANDLERS = {
    HTTPError: handle_http_error,
    AuthenticationError: handle_authentication,
    HTTPException: handle_starlette_http,
    ValidationError: handle_validation,
}
