"""Query strings into filter objects (``core.operations.filters``), the offending field named on error."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from core.errors import HTTPError
from core.web.responses import validation_errors

M = TypeVar("M", bound=BaseModel)


def parse_query(request: Request, model: type[M]) -> M:
    """The request's query string as ``model``; repeated or comma-separated lists for list fields."""
    data: dict[str, Any] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        annotation = model.model_fields[key].annotation if key in model.model_fields else None
        if annotation is not None and "list" in str(annotation):
            data[key] = [v for value in values for v in value.split(",") if v]
        else:
            data[key] = values[-1]
    return validate(model, data)


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise HTTPError("invalid parameters", status_code=422, errors=validation_errors(err)) from err
