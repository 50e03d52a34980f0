"""``[plugins.devices]``: upload limits, timing, value ranges and the alert rules of config."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plugins.devices.units import BLOOD_PRESSURE, METRICS, default_ranges

Comparison = Literal["<", "<=", ">", ">=", "=="]
Severity = Literal["info", "warning", "critical"]
DEVICE_TYPES = ("bp_monitor", "glucometer", "pulse_oximeter", "scale", "thermometer", "wearable", "other")


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleSettings(_Table):
    """An alert rule: a reading whose ``metric`` (``field`` of blood pressure) compares true raises an alert."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    metric: str
    # Blood pressure only: which value the rule reads.
    field: Literal["value", "systolic", "diastolic"] = "value"
    comparison: Comparison
    value: float  # in the metric's canonical unit
    subject: str | None = Field(default=None, max_length=128)
    device_type: Literal[DEVICE_TYPES] | None = None  # type: ignore[valid-type]
    severity: Severity = "warning"
    enabled: bool = True

    @model_validator(mode="after")
    def _known_metric(self) -> RuleSettings:
        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r} (known: {', '.join(sorted(METRICS))})")
        if (self.metric == BLOOD_PRESSURE) != (self.field != "value"):
            raise ValueError("field is systolic or diastolic for blood_pressure, and value for every other metric")
        return self


DEFAULT_RULES = [
    RuleSettings(name="spo2-low", metric="spo2", comparison="<", value=90, severity="critical"),
    RuleSettings(
        name="systolic-high", metric=BLOOD_PRESSURE, field="systolic", comparison=">=", value=180, severity="critical"
    ),
    RuleSettings(
        name="diastolic-high", metric=BLOOD_PRESSURE, field="diastolic", comparison=">=", value=120, severity="critical"
    ),
    RuleSettings(name="glucose-low", metric="blood_glucose", comparison="<", value=3.0, severity="critical"),
    RuleSettings(name="glucose-high", metric="blood_glucose", comparison=">", value=16.7, severity="warning"),
    RuleSettings(name="fever-high", metric="temperature", comparison=">=", value=39.5, severity="warning"),
]


class DevicesSettings(_Table):
    """The plugin's settings; every key has a default."""

    # Readings in one upload; a larger batch is refused whole (413).
    max_readings: int = Field(default=1000, ge=1, le=10_000)
    # How far in the future a measured_at may be (device clocks drift).
    max_future_skew: int = Field(default=300, ge=0)
    # A device not heard from (upload or heartbeat) for this long is marked silent.
    silent_after: int = Field(default=3600, ge=60)
    # How often the silent-device job runs (a divisor of a minute, hour or day).
    silent_check_every: int = Field(default=60, ge=1)
    # One alert per rule and subject within this many seconds.
    alert_quiet_period: int = Field(default=3600, ge=0)
    # Seconds a rotated key keeps working, so the device can be switched over.
    rotation_grace: int = Field(default=86_400, ge=0)
    # Possible ranges per metric in canonical units (blood pressure: systolic, diastolic).
    ranges: dict[str, tuple[float, float]] = Field(default_factory=dict)
    # Rules written here are added to the database at start-up (once, by name); admins edit them there.
    rules: list[RuleSettings] = Field(default_factory=lambda: list(DEFAULT_RULES))

    @field_validator("silent_check_every")
    @classmethod
    def _divides(cls, value: int) -> int:
        if not any(
            value == n * unit and period % n == 0
            for unit, period in ((1, 60), (60, 60), (3600, 24))
            for n in range(1, period + 1)
        ):
            raise ValueError("must divide a minute, an hour or a day (e.g. 30, 60, 300, 3600)")
        return value

    @field_validator("ranges")
    @classmethod
    def _ranges(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        known = default_ranges()
        for metric, (low, high) in value.items():
            if metric not in known:
                raise ValueError(f"ranges: unknown metric {metric!r} (known: {', '.join(sorted(known))})")
            if low >= high:
                raise ValueError(f"ranges.{metric}: the low end must be below the high end")
        return known | value

    @model_validator(mode="after")
    def _fill_ranges(self) -> DevicesSettings:
        if not self.ranges:
            self.ranges = default_ranges()
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError("rules: two rules have the same name")
        return self
