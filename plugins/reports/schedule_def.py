"""A report schedule's definition (``[[plugins.reports.schedules]]`` or the API) and when it is due.

A schedule runs ``every`` hour, day (at ``at``, UTC), week (Mondays at ``at``) or month (the 1st
at ``at``), or at the times of a 5-field ``cron`` expression (UTC, read by croniter). Its ticks are those instants; the cron job starts the latest tick that has come,
if it came less than ``CATCH_UP`` ago (a worker down for a minute or two still runs it; one down
for hours does not send stale reports).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

CATCH_UP = timedelta(minutes=15)
NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_AT = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


class Schedule(BaseModel):
    """One scheduled report: what to make, when, and where it goes (mail, a destination, or both)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME)
    every: Literal["hour", "day", "week", "month"] | None = None
    # Instead of every: "minute hour day-of-month month day-of-week", UTC ("30 6 * * 1-5").
    cron: str | None = Field(default=None, max_length=120, validate_default=True)
    # With every, "HH:MM" UTC (default 00:00); for every = "hour" only the minutes count and HH must be 00.
    at: str | None = None
    type: str = Field(min_length=1, max_length=64)
    format: Literal["csv", "xlsx", "json"] = "csv"
    params: dict[str, Any] = Field(default_factory=lambda: {"period": "last_day"})
    recipients: list[str] = Field(default_factory=list, max_length=50)
    destination: str | None = Field(default=None, min_length=1, max_length=64, validate_default=True)

    @field_validator("cron")
    @classmethod
    def _every_or_cron(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "every" not in info.data:
            return value  # every itself is invalid: that is the error to report
        if value is None and info.data["every"] is None:
            raise ValueError("give every or cron")
        if value is not None and info.data["every"] is not None:
            raise ValueError("give every or cron, not both")
        if value is not None and (len(value.split()) != 5 or not croniter.is_valid(value)):
            raise ValueError('expected 5 fields, "minute hour day-of-month month day-of-week", such as "30 6 * * 1-5"')
        return value

    @field_validator("at")
    @classmethod
    def _at_is_a_time(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if info.data.get("cron") is not None:
            raise ValueError("at goes with every; a cron expression holds its own times")
        if not _AT.match(value):
            raise ValueError('expected "HH:MM" (UTC), such as "06:30"')
        if info.data.get("every") == "hour" and not value.startswith("00:"):
            raise ValueError('every = "hour" runs at a minute of each hour: give "00:MM"')
        return value

    @field_validator("recipients")
    @classmethod
    def _recipients_are_addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not _ADDRESS.match(address):
                raise ValueError(f"{address!r} is not an e-mail address")
        return value

    @field_validator("destination")
    @classmethod
    def _goes_somewhere(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and not info.data.get("recipients") and "recipients" in info.data:
            raise ValueError("give recipients, a destination, or both")
        return value

    def last_tick(self, now: datetime) -> datetime:
        """The latest instant at or before ``now`` when this schedule is due."""
        now = now.astimezone(UTC)
        if self.cron is not None:
            # croniter's previous time is strictly before its start: start just after this minute began.
            start = now.replace(second=0, microsecond=0) + timedelta(seconds=1)
            tick: datetime = croniter(self.cron, start).get_prev(datetime)
            return tick.astimezone(UTC)
        hour, minute = (int(part) for part in (self.at or "00:00").split(":"))
        if self.every == "hour":
            tick = now.replace(minute=minute, second=0, microsecond=0)
            return tick if tick <= now else tick - timedelta(hours=1)
        day = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if self.every == "day":
            return day if day <= now else day - timedelta(days=1)
        if self.every == "week":
            monday = day - timedelta(days=day.weekday())
            return monday if monday <= now else monday - timedelta(days=7)
        first = day.replace(day=1)
        if first <= now:
            return first
        return (first - timedelta(days=1)).replace(day=1)

    def next_tick(self, now: datetime) -> datetime:
        """The first instant strictly after ``now`` when this schedule is due."""
        now = now.astimezone(UTC)
        if self.cron is not None:
            tick: datetime = croniter(self.cron, now).get_next(datetime)
            return tick.astimezone(UTC)
        last = self.last_tick(now)
        if self.every == "hour":
            return last + timedelta(hours=1)
        if self.every == "day":
            return last + timedelta(days=1)
        if self.every == "week":
            return last + timedelta(days=7)
        month = last.replace(day=28) + timedelta(days=4)  # some day of the next month
        return month.replace(day=1)

    def due(self, now: datetime, since: datetime | None = None) -> datetime | None:
        """The tick to run now, if one came within ``CATCH_UP`` (and not before ``since``)."""
        tick = self.last_tick(now)
        if now - tick >= CATCH_UP or (since is not None and tick < since):
            return None
        return tick
