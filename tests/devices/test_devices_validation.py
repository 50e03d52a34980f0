"""One reading, checked on its own: units converted to canonical ones, every reason named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from plugins.devices.units import default_ranges
from plugins.devices.validation import Reading, Rejected, check_reading

NOW = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)


def check(item):  # type: ignore[no-untyped-def]
    return check_reading(0, item, now=NOW, max_future_skew=300, ranges=default_ranges(), default_subject="P-1")


def item(**fields):  # type: ignore[no-untyped-def]
    return {"id": "r-1", "measured_at": "2025-03-04T10:30:00+03:00"} | fields


def test_glucose_in_mg_per_dl_is_stored_in_mmol_per_l() -> None:
    reading = check(item(metric="blood_glucose", value=180.156, unit="MG/DL"))
    assert isinstance(reading, Reading)
    assert round(reading.value, 6) == 10.0 and reading.unit == "mmol/L" and reading.original_unit == "mg/dL"
    assert reading.measured_at == datetime(2025, 3, 4, 7, 30, tzinfo=UTC) and reading.subject == "P-1"


def test_fahrenheit_is_stored_in_celsius() -> None:
    reading = check(item(metric="temperature", value=104, unit="°F"))
    assert isinstance(reading, Reading) and reading.value == 40.0 and reading.unit == "°C"


def test_eighty_degrees_is_not_a_body_temperature() -> None:
    rejected = check(item(metric="temperature", value=80, unit="°C"))
    assert isinstance(rejected, Rejected) and rejected.errors[0]["field"] == "value"


def test_a_time_without_an_offset_is_refused() -> None:
    rejected = check(item(metric="spo2", value=97, unit="%", measured_at="2025-03-04T08:00:00"))
    assert isinstance(rejected, Rejected) and rejected.errors == [
        {"field": "measured_at", "message": "an ISO 8601 time with an offset is required"}
    ]


def test_a_little_clock_drift_is_allowed_but_not_more() -> None:
    soon = (NOW + timedelta(seconds=200)).isoformat()
    later = (NOW + timedelta(seconds=400)).isoformat()
    assert isinstance(check(item(metric="spo2", value=97, unit="%", measured_at=soon)), Reading)
    assert isinstance(check(item(metric="spo2", value=97, unit="%", measured_at=later)), Rejected)


def test_every_reason_of_one_reading_is_given() -> None:
    rejected = check({"metric": "weight", "unit": "stone", "value": "heavy"})
    assert isinstance(rejected, Rejected)
    assert {e["field"] for e in rejected.errors} == {"id", "measured_at", "unit"}


def test_a_wrong_unit_names_the_units_of_its_metric() -> None:
    rejected = check(item(metric="weight", value=70, unit="stone"))
    assert isinstance(rejected, Rejected) and rejected.errors[0]["message"] == "weight is given in kg, lb"


def test_a_value_that_is_not_a_number_is_refused() -> None:
    for value in ("97", True, None):
        rejected = check(item(metric="spo2", value=value, unit="%"))
        assert isinstance(rejected, Rejected) and rejected.errors[0]["field"] == "value"


def test_an_item_that_is_not_an_object_is_refused() -> None:
    assert check(["spo2", 97]) == Rejected(0, None, [{"field": "", "message": "a reading is a JSON object"}])


def test_plain_readings_give_the_same_reading_by_either_check() -> None:
    """Plain valid readings take a short path; it must agree with the full check on each."""
    from plugins.devices.validation import _check_thoroughly, _plainly_valid

    latest = NOW + timedelta(seconds=300)
    items = [
        item(metric="blood_glucose", value=180, unit="mg/dL"),
        item(metric="temperature", value=98.6, unit=" °f ", subject="P-9"),
        item(metric="weight", value=154.2, unit="LB", id=1846),
        item(metric="blood_pressure", systolic=124, diastolic=81, unit="mmHg"),
        item(metric="spo2", value=97.0, unit="%", measured_at="2025-03-04T08:04:00Z"),
        item(metric="heart_rate", value=72, unit="/min", subject=None),
    ]
    for index, one in enumerate(items):
        fast = _plainly_valid(index, one, latest, default_ranges(), "P-1")
        assert isinstance(fast, Reading) and fast == _check_thoroughly(index, one, latest, default_ranges(), "P-1")
    # Anything else is left to the full check, which names what is wrong.
    for bad in (
        item(metric="spo2", value=True, unit="%"),
        item(metric="spo2", value="97", unit="%"),
        item(metric="spo2", value=97, unit="%", id=""),
        item(metric="spo2", value=97, unit="%", subject=7),
        item(metric="blood_pressure", systolic=80, diastolic=81, unit="mmHg"),
        item(metric="spo2", value=97, unit="%", measured_at="2025-03-04T09:00:00+00:00"),
    ):
        assert _plainly_valid(0, bad, latest, default_ranges(), "P-1") is None
        assert isinstance(check(bad), Rejected)


def test_a_time_at_the_ends_of_the_calendar_is_refused_not_stored() -> None:
    # Converted to UTC for storage, year 1 in UTC+14 would overflow: a 500 for the device.
    for when in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        rejected = check(item(metric="spo2", value=97, unit="%", measured_at=when))
        assert isinstance(rejected, Rejected) and rejected.errors[0]["field"] == "measured_at", when
