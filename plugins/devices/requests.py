"""Reading request bodies and query strings into checked values: one way for every route."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from core import Unprocessable, read_json, read_query

M = TypeVar("M", bound=BaseModel)


def _errors(err: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in err.errors()]


async def json_body(request: Request, model: type[M]) -> M:
    """The body as ``model``, read as the core reads one (``core.read_json``): 415 when it is not
    JSON, 400 when it is malformed, 422 with each field's error when it does not fit. An empty
    body is ``{}``."""
    return validate(model, await read_json(request, optional=True), "invalid request body")


def validate(model: type[M], data: Any, what: str) -> M:
    """``data`` as ``model``, or a 422 naming each field that does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise Unprocessable(what, errors=_errors(err)) from err


def query(request: Request, model: type[M]) -> M:
    """The query string as ``model`` (422 naming each bad parameter, as the core's lists answer)."""
    return read_query(request, model)



def aware(value: datetime | None) -> datetime | None:
    """Refuse a time without an offset (a reading's or a period's time zone must be known)."""
    if value is not None and value.tzinfo is None:
        raise ValueError("a time with an offset is required (e.g. 2025-01-31T08:00:00+03:00)")
    return value
