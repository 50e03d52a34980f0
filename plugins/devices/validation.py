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

from core import BadRequest, HTTPError
from plugins.devices.units import BLOOD_PRESSURE, METRICS, find_unit

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
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
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
    if not isinstance(item, dict):
        return Rejected(index, None, [{"field": "", "message": "a reading is a JSON object"}])
    errors: list[dict[str, str]] = []
    reading_id = _text(item, "id", errors, required=True)
    subject = _text(item, "subject", errors, required=False) or default_subject
    when = _when(item, now + timedelta(seconds=max_future_skew), errors)
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
