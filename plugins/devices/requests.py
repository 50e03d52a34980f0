"""Reading request bodies and query strings into checked values: one way for every route."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from core import BadRequest, NotFound, Unprocessable, read_query

M = TypeVar("M", bound=BaseModel)


def _errors(err: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in err.errors()]


async def json_body(request: Request, model: type[M]) -> M:
    """The body as ``model``: 400 when it is not JSON, 422 with each field's error when it does not fit."""
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type not in ("application/json", ""):
        raise BadRequest(f"expected a JSON body (Content-Type application/json), got {content_type}")
    try:
        data = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError as err:
        raise BadRequest(f"the body is not valid JSON: {err}") from err
    return validate(model, data, "invalid request body")


def validate(model: type[M], data: Any, what: str) -> M:
    """``data`` as ``model``, or a 422 naming each field that does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise Unprocessable(what, errors=_errors(err)) from err


def query(request: Request, model: type[M]) -> M:
    """The query string as ``model`` (422 naming each bad parameter, as the core's lists answer)."""
    return read_query(request, model)


def path_id(request: Request, name: str, what: str) -> uuid.UUID:
    """A UUID path parameter; a malformed one is simply not found."""
    try:
        return uuid.UUID(request.path_params[name])
    except ValueError as err:
        raise NotFound(f"no such {what}") from err


def aware(value: datetime | None) -> datetime | None:
    """Refuse a time without an offset (a reading's or a period's time zone must be known)."""
    if value is not None and value.tzinfo is None:
        raise ValueError("a time with an offset is required (e.g. 2025-01-31T08:00:00+03:00)")
    return value
