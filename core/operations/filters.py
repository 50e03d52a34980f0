"""What the record queries and repairs select by: plain filter objects, validated.

The JSON API and the admin UI build these from query strings or forms; the queries in
``core.operations`` take them and know nothing of HTTP. Times without a zone are UTC.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.pipeline.statuses import DeliveryStatus
from core.untrusted import in_range


class Page(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, description="the older page: a page's `next`")
    before: str | None = Field(default=None, description="the newer page: a page's `newer`")
    since: datetime | None = None
    until: datetime | None = None

    @model_validator(mode="after")
    def _one_direction(self) -> Page:
        if self.cursor and self.before:
            raise ValueError("give cursor (older) or before (newer), not both")
        return self

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        # A time without a zone is taken as UTC, the zone of every stored time; one near the ends
        # of the calendar is refused (422), not left to overflow when it is converted.
        return in_range(value) if value is not None else None


class MessageFilters(Page):
    platform: str | None = None
    kind: str | None = None
    sender: str | None = None
    participant: str | None = Field(default=None, description="the sender or the recipient")
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


# The kinds of audit entry the gateway writes: a filter on any other would only ever find nothing.
AuditKind = Literal["request", "webhook", "delivery", "auth", "admin", "system"]


class LogFilters(Page):
    kind: AuditKind | None = None
    status: int | None = Field(default=None, ge=100, le=599)
    user: str | None = None
    endpoint: str | None = None
    action: str | None = None
    platform: str | None = None
