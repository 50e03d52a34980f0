"""Query parameters of the list endpoints: validated, with the offending field named on error."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.requests import Request

from core.errors import HTTPError
from core.pipeline.deliveries import STATUSES
from core.web.responses import validation_errors

M = TypeVar("M", bound=BaseModel)
DeliveryStatus = Literal["pending", "queued", "running", "retrying", "delivered", "dead", "cancelled"]
assert set(DeliveryStatus.__args__) == set(STATUSES)  # type: ignore[attr-defined]


class Page(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        # A time without a zone is taken as UTC, the zone of every stored time.
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class MessageFilters(Page):
    platform: str | None = None
    kind: str | None = None
    sender: str | None = None
    direction: Literal["in", "out"] | None = None
    conversation: uuid.UUID | None = None


class DeliveryFilters(Page):
    status: list[DeliveryStatus] | None = None
    destination: str | None = None
    platform: str | None = None
    message: uuid.UUID | None = None


class ConversationFilters(Page):
    platform: str | None = None
    participant: str | None = None
    status: Literal["open", "closed"] | None = None


class LogFilters(Page):
    kind: str | None = None
    status: int | None = Field(default=None, ge=100, le=599)
    user: str | None = None
    endpoint: str | None = None
    action: str | None = None


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
