"""Checking an upload: the body as a whole, then each reading on its own.

A body that is not a JSON object with a ``readings`` list, or holds more readings than
allowed, is refused whole. Each reading is then accepted or rejected with its reasons; one
bad reading never costs the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from core import BadRequest, HTTPError, bounded_day
from plugins.devices.units import BLOOD_PRESSURE, METRICS, Metric, find_unit

MAX_TEXT = 128


@dataclass(slots=True)
class Reading:
    """A valid reading, in canonical units (blood pressure: ``value`` is systolic)."""

    index: int
    reading_id: str
    metric: str
    value: float
    diastolic: float | None
    unit: str
    original_value: float | None
    original_unit: str
    measured_at: datetime
    subject: str | None
    raw: dict[str, Any]


@dataclass(slots=True)
class Rejected:
    index: int
    reading_id: Any
    errors: list[dict[str, str]]

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.reading_id, "errors": self.errors}


def readings_of(body: bytes, max_readings: int) -> list[Any]:
    """The ``readings`` list of an upload body, or an error for the whole request."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise BadRequest(f"the body is not valid JSON: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("readings"), list):
        raise BadRequest(
            "expected a JSON object with a readings list",
            errors=[{"field": "readings", "message": "a list of readings is required"}],
        )
    items: list[Any] = data["readings"]
    if len(items) > max_readings:
        raise HTTPError(
            f"{len(items)} readings in one upload; at most {max_readings} are accepted (split the batch)",
            status_code=413,
        )
    return items


def _number(item: dict[str, Any], name: str, errors: list[dict[str, str]]) -> float | None:
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        errors.append({"field": name, "message": "a number is required"})
        return None
    return float(value)


def _text(item: dict[str, Any], name: str, errors: list[dict[str, str]], *, required: bool) -> str | None:
    value = item.get(name)
    if value is None and not required:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and name == "id":
        value = str(value)  # firmware often counts its readings
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        errors.append({"field": name, "message": f"a text of 1 to {MAX_TEXT} characters is required"})
        return None
    return value


def _when(item: dict[str, Any], latest: datetime, errors: list[dict[str, str]]) -> datetime | None:
    value = item.get("measured_at")
    # A time with its offset, years 2 to 9998 (so converting it to UTC cannot overflow); not a bare day.
    when = bounded_day(value) if isinstance(value, str) and len(value) != 10 else None
    if when is None:
        errors.append({"field": "measured_at", "message": "an ISO 8601 time with an offset is required"})
        return None
    if when > latest:
        errors.append({"field": "measured_at", "message": "is in the future (check the device's clock)"})
        return None
    return when


def _in_range(
    field: str, name: str, value: float, ranges: dict[str, tuple[float, float]], unit: str, errors: list[dict[str, str]]
) -> None:
    low, high = ranges[name]
    if not low <= value <= high:
        errors.append(
            {"field": field, "message": f"{value:g} {unit} is outside the possible range {low:g}–{high:g} {unit}"}
        )


def check_reading(
    index: int,
    item: Any,
    *,
    now: datetime,
    max_future_skew: int,
    ranges: dict[str, tuple[float, float]],
    default_subject: str | None,
) -> Reading | Rejected:
    """One reading, validated and converted to its metric's canonical unit, or why it is rejected."""
    latest = now + timedelta(seconds=max_future_skew)
    if type(item) is dict:
        reading = _plainly_valid(index, item, latest, ranges, default_subject)
        if reading is not None:
            return reading
    return _check_thoroughly(index, item, latest, ranges, default_subject)


def _finite(value: Any) -> float | None:
    """A JSON number as a float (None: not a plain finite number; the thorough check says why)."""
    if type(value) is float:
        return value if math.isfinite(value) else None
    return float(value) if type(value) is int else None


def _plain_text(value: Any) -> str | None:
    return value if type(value) is str and len(value) <= MAX_TEXT and value.strip() else None


def _plainly_valid(
    index: int, item: dict[str, Any], latest: datetime, ranges: dict[str, tuple[float, float]], default: str | None
) -> Reading | None:
    """The reading, when it is valid and every value has the plain JSON type (almost every
    reading); None sends it to ``_check_thoroughly``, which gives the same reading or the
    errors. One pass with no error lists: a third of what the thorough check costs."""
    raw_id = item.get("id")
    reading_id = str(raw_id) if type(raw_id) is int else _plain_text(raw_id)
    subject = item.get("subject")
    if subject is None:
        subject = default
    elif _plain_text(subject) is None:
        return None
    text = item.get("measured_at")
    name = item.get("metric")
    unit_text = item.get("unit")
    if reading_id is None or type(text) is not str or type(name) is not str or type(unit_text) is not str:
        return None
    if len(reading_id) > MAX_TEXT:
        return None
    when = bounded_day(text) if len(text) != 10 else None
    metric: Metric | None = METRICS.get(name)
    if when is None or when > latest or metric is None:
        return None
    found = find_unit(metric.name, unit_text)
    if found is None:
        return None
    unit, convert = found
    if metric.name == BLOOD_PRESSURE:
        systolic, diastolic = _finite(item.get("systolic")), _finite(item.get("diastolic"))
        if systolic is None or diastolic is None or systolic <= diastolic:
            return None
        low, high = ranges["systolic"]
        low2, high2 = ranges["diastolic"]
        if not (low <= systolic <= high and low2 <= diastolic <= high2):
            return None
        return Reading(
            index, reading_id, metric.name, systolic, diastolic, metric.canonical, None, unit, when, subject, item
        )
    original = _finite(item.get("value"))
    if original is None:
        return None
    value = convert(original)
    low, high = ranges[metric.name]
    if not low <= value <= high:
        return None
    return Reading(index, reading_id, metric.name, value, None, metric.canonical, original, unit, when, subject, item)


def _check_thoroughly(
    index: int,
    item: Any,
    latest: datetime,
    ranges: dict[str, tuple[float, float]],
    default_subject: str | None,
) -> Reading | Rejected:
    """Every check, each failure with its field and reason."""
    if not isinstance(item, dict):
        return Rejected(index, None, [{"field": "", "message": "a reading is a JSON object"}])
    errors: list[dict[str, str]] = []
    reading_id = _text(item, "id", errors, required=True)
    subject = _text(item, "subject", errors, required=False) or default_subject
    when = _when(item, latest, errors)
    metric_name = item.get("metric")
    metric = METRICS.get(metric_name) if isinstance(metric_name, str) else None
    raw_id = item.get("id") if isinstance(item.get("id"), str | int) else None
    if metric is None:
        errors.append({"field": "metric", "message": f"unknown metric (known: {', '.join(METRICS)})"})
        return Rejected(index, raw_id, errors)
    unit_text = item.get("unit")
    found = find_unit(metric.name, unit_text) if isinstance(unit_text, str) else None
    if found is None:
        errors.append({"field": "unit", "message": f"{metric.name} is given in {', '.join(metric.units)}"})
        return Rejected(index, raw_id, errors)
    unit, convert = found
    original: float | None
    diastolic: float | None = None
    if metric.name == BLOOD_PRESSURE:
        systolic, diastolic = _number(item, "systolic", errors), _number(item, "diastolic", errors)
        if systolic is not None and diastolic is not None:
            _in_range("systolic", "systolic", systolic, ranges, unit, errors)
            _in_range("diastolic", "diastolic", diastolic, ranges, unit, errors)
            if systolic <= diastolic:
                errors.append({"field": "systolic", "message": "must be above diastolic"})
        value, original = systolic, None
    else:
        original = _number(item, "value", errors)
        value = convert(original) if original is not None else None
        if value is not None:
            _in_range("value", metric.name, value, ranges, metric.canonical, errors)
    if errors or reading_id is None or value is None or when is None:
        return Rejected(index, raw_id, errors)
    return Reading(
        index, reading_id, metric.name, value, diastolic, metric.canonical, original, unit, when, subject, item
    )
