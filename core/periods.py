"""The period a report covers: ``start``/``end`` dates or times (end exclusive), or a relative ``period``.

A client's ``params`` are checked once, when the report is asked for (``check_period``: a 422
naming the field for a bad one), and stored resolved, as ISO ``start`` and ``end``; whoever
generates the report reads them back with ``period_of``. A relative period is resolved when
checked, so a scheduled report's "last_week" is the week before each run. The ``last_*`` periods
are whole days and leave today out; ``today`` and ``this_week`` run up to the moment of asking.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from core.errors import Unprocessable
from core.untrusted import in_range

Relative = Literal["today", "last_day", "this_week", "last_week", "last_month"]
RELATIVE_PERIODS: tuple[str, ...] = get_args(Relative)
MAX_DAYS = 366


class Period(NamedTuple):
    """A half-open span ``[start, end)`` of aware datetimes; unpacks as ``start, end``."""

    start: datetime
    end: datetime


class _PeriodParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: datetime | date | None = None
    end: datetime | date | None = None
    period: Relative | None = None

    @model_validator(mode="after")
    def _one_way(self) -> _PeriodParams:
        if self.period is None and (self.start is None or self.end is None):
            raise ValueError("give start and end, or period")
        if self.period is not None and (self.start is not None or self.end is not None):
            raise ValueError("give start and end, or period, not both")
        return self


def _aware(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(0), tzinfo=UTC)


def _within_range(field: str, value: datetime | date) -> datetime:
    """The aware time of ``value``; a 422 naming ``params.<field>`` near the ends of the calendar."""
    try:
        return in_range(_aware(value))
    except ValueError as err:
        raise Unprocessable("invalid params", errors=[{"field": f"params.{field}", "message": str(err)}]) from err


def relative_period(period: str, now: datetime) -> Period:
    """``last_day`` (yesterday), ``last_week`` (the 7 days before today) and ``last_month`` (the
    previous calendar month) are whole UTC days and leave today out; ``today`` (since midnight UTC)
    and ``this_week`` (today and the 6 days before) end now."""
    today = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    if period == "today":
        return Period(today, now)
    if period == "this_week":
        return Period(today - timedelta(days=6), now)
    if period == "last_day":
        return Period(today - timedelta(days=1), today)
    if period == "last_week":
        return Period(today - timedelta(days=7), today)
    if period == "last_month":
        first = today.replace(day=1)
        return Period((first - timedelta(days=1)).replace(day=1), first)
    raise ValueError(f"not a relative period: {period!r} (one of {', '.join(RELATIVE_PERIODS)})")


def check_period(
    params: dict[str, Any],
    *,
    max_days: int = MAX_DAYS,
    now: datetime | None = None,
    others: Collection[str] = (),
) -> dict[str, Any]:
    """``{"start": iso, "end": iso}``: the period of ``params``, checked and resolved.

    ``params`` is ``{"start": "2026-01-01", "end": "2026-02-01"}`` (dates or times; a time
    without a zone is UTC) or ``{"period": "last_week"}`` (``RELATIVE_PERIODS``). Any other key
    is refused unless named in ``others`` (a report's own parameters, which the caller checks
    and adds to the result). Raises ``core.Unprocessable`` (422) whose ``errors`` name
    ``params.<field>``: a malformed date, an end not after the start, a period longer than
    ``max_days``, both or neither of the two ways.
    """
    mine = {k: v for k, v in params.items() if k not in others}
    try:
        checked = _PeriodParams.model_validate(mine)
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
        start, end = _within_range("start", checked.start), _within_range("end", checked.end)
        if end <= start:
            raise Unprocessable("invalid params", errors=[{"field": "params.end", "message": "must be after start"}])
        if end - start > timedelta(days=max_days):
            raise Unprocessable(
                "invalid params",
                errors=[{"field": "params.end", "message": f"the period may cover at most {max_days} days"}],
            )
    return {"start": start.isoformat(), "end": end.isoformat()}


def period_of(params: dict[str, Any]) -> Period:
    """The period of ``params`` as ``check_period`` stored them, back as datetimes."""
    return Period(datetime.fromisoformat(params["start"]), datetime.fromisoformat(params["end"]))
