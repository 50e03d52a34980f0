"""[plugins.devices]: defaults that make sense, and a wrong key stops start-up naming it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from plugins.devices.settings import DevicesSettings


def test_the_defaults_hold_the_rules_of_the_spec() -> None:
    settings = DevicesSettings()
    assert settings.max_readings == 1000
    assert {r.name for r in settings.rules} == {
        "spo2-low",
        "systolic-high",
        "diastolic-high",
        "glucose-low",
        "glucose-high",
        "fever-high",
    }
    assert settings.ranges["temperature"] == (25.0, 45.0) and settings.ranges["systolic"] == (40.0, 300.0)


def test_a_range_overrides_only_its_metric() -> None:
    settings = DevicesSettings.model_validate({"ranges": {"temperature": [30, 43]}})
    assert settings.ranges["temperature"] == (30, 43) and settings.ranges["spo2"] == (30.0, 100.0)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"ranges": {"mood": [1, 2]}}, "unknown metric 'mood'"),
        ({"ranges": {"spo2": [100, 50]}}, "low end must be below"),
        ({"rules": [{"name": "x", "metric": "spo2", "comparison": "<", "value": 90, "field": "systolic"}]}, "field"),
        ({"rules": [{"name": "x", "metric": "spo2", "comparison": "~", "value": 90}]}, "comparison"),
        ({"silent_check_every": 7}, "must divide"),
        ({"max_readings": 0}, "max_readings"),
        ({"max_redings": 10}, "max_redings"),
    ],
)
def test_a_wrong_setting_is_refused_with_its_key(table, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as err:
        DevicesSettings.model_validate(table)
    assert message in str(err.value)
