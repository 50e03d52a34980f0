"""The period a report covers: ``start``/``end`` dates or times, or a relative ``period``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from core import Unprocessable

Relative = Literal["last_day", "last_week", "last_month"]
MAX_DAYS = 366


class PeriodParams(BaseModel):
    """``{"start": "2026-01-01", "end": "2026-02-01"}`` (end exclusive) or ``{"period": "last_week"}``."""

    model_config = ConfigDict(extra="forbid")

    start: datetime | date | None = None
    end: datetime | date | None = None
    period: Relative | None = None

    @model_validator(mode="after")
    def _one_way(self) -> PeriodParams:
        if self.period is None and (self.start is None or self.end is None):
            raise ValueError("give start and end, or period")
        if self.period is not None and (self.start is not None or self.end is not None):
            raise ValueError("give start and end, or period, not both")
        return self


def _aware(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(0), tzinfo=UTC)


def relative_period(period: Relative, now: datetime) -> tuple[datetime, datetime]:
    """Whole UTC days before today: yesterday, the 7 days before today, the previous calendar month."""
    today = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    if period == "last_day":
        return today - timedelta(days=1), today
    if period == "last_week":
        return today - timedelta(days=7), today
    first = today.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1), first


def check_period(params: dict[str, Any], *, max_days: int = MAX_DAYS, now: datetime | None = None) -> dict[str, Any]:
    """Validated ``params`` with the period resolved to ISO ``start`` and ``end`` (422 naming the field)."""
    try:
        checked = PeriodParams.model_validate(params)
    except ValidationError as err:
        # The field alone: a union's member (start.date, start.datetime) says nothing to the client.
        found: dict[str, str] = {}
        for e in err.errors():
            found.setdefault(f"params.{e['loc'][0]}" if e["loc"] else "params", e["msg"])
        errors = [{"field": field, "message": message} for field, message in found.items()]
        raise Unprocessable("invalid params", errors=errors) from err
    if checked.period is not None:
        start, end = relative_period(checked.period, now or datetime.now(UTC))
    else:
        assert checked.start is not None and checked.end is not None
        start, end = _aware(checked.start), _aware(checked.end)
        if end <= start:
            raise Unprocessable("invalid params", errors=[{"field": "params.end", "message": "must be after start"}])
        if end - start > timedelta(days=max_days):
            raise Unprocessable(
                "invalid params",
                errors=[{"field": "params.end", "message": f"the period may cover at most {max_days} days"}],
            )
    return {"start": start.isoformat(), "end": end.isoformat()}


def period_of(params: dict[str, Any]) -> tuple[datetime, datetime]:
    """The stored (checked) period back as datetimes."""
    return datetime.fromisoformat(params["start"]), datetime.fromisoformat(params["end"])
