"""Metrics, their units and the physiologically possible range of each.

Readings are stored in one canonical unit per metric (kg, mmol/L, °C, …); the unit a device
sent and its value are kept beside the canonical value. Ranges are in canonical units.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Convert = Callable[[float], float]


def _same(value: float) -> float:
    return value


def _pounds(value: float) -> float:
    return value * 0.45359237


def _mg_dl(value: float) -> float:
    return value / 18.0156  # glucose: 180.156 g/mol


def _fahrenheit(value: float) -> float:
    return (value - 32.0) * 5.0 / 9.0


@dataclass(frozen=True)
class Metric:
    """A metric: its canonical unit, the units accepted (name → converter) and its default range."""

    name: str
    canonical: str
    units: dict[str, Convert]
    low: float
    high: float
    label: str


BLOOD_PRESSURE = "blood_pressure"
# Blood pressure is two values; its range applies to each (diastolic below, systolic above).
PRESSURE_RANGES = {"systolic": (40.0, 300.0), "diastolic": (20.0, 200.0)}

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(BLOOD_PRESSURE, "mmHg", {"mmHg": _same}, 20.0, 300.0, "blood pressure"),
        Metric("heart_rate", "bpm", {"bpm": _same, "/min": _same}, 20.0, 300.0, "heart rate"),
        Metric("weight", "kg", {"kg": _same, "lb": _pounds}, 0.2, 650.0, "weight"),
        Metric("blood_glucose", "mmol/L", {"mmol/L": _same, "mg/dL": _mg_dl}, 0.5, 60.0, "blood glucose"),
        Metric(
            "temperature",
            "°C",
            {"°C": _same, "C": _same, "°F": _fahrenheit, "F": _fahrenheit},
            25.0,
            45.0,
            "temperature",
        ),
        Metric("spo2", "%", {"%": _same}, 30.0, 100.0, "SpO₂"),
        Metric("steps", "steps", {"steps": _same, "count": _same}, 0.0, 200_000.0, "steps"),
        Metric("sleep_hours", "h", {"h": _same}, 0.0, 24.0, "sleep"),
        Metric("calories", "kcal", {"kcal": _same}, 0.0, 20_000.0, "calories"),
        Metric("bmi", "kg/m2", {"kg/m2": _same, "kg/m²": _same}, 5.0, 150.0, "BMI"),
        Metric("body_fat", "%", {"%": _same}, 1.0, 80.0, "body fat"),
        Metric("muscle_mass", "kg", {"kg": _same, "lb": _pounds}, 1.0, 300.0, "muscle mass"),
    )
}

# Units are matched without regard to case ("mmol/l", "MG/DL"), once per metric.
_UNIT_INDEX: dict[tuple[str, str], tuple[str, Convert]] = {
    (m.name, unit.casefold()): (unit, convert) for m in METRICS.values() for unit, convert in m.units.items()
}


def find_unit(metric: str, unit: str) -> tuple[str, Convert] | None:
    """The unit's spelling as listed and its converter to the canonical unit; None if unknown."""
    return _UNIT_INDEX.get((metric, unit.strip().casefold()))


def default_ranges() -> dict[str, tuple[float, float]]:
    """Each metric's possible range in canonical units (blood pressure: per component)."""
    ranges = {name: (m.low, m.high) for name, m in METRICS.items() if name != BLOOD_PRESSURE}
    return ranges | PRESSURE_RANGES
