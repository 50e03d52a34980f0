"""core.periods: a report's period, checked once and stored as ISO text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core import Period, Unprocessable, check_period, period_of

NOW = datetime(2026, 3, 15, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("last_day", datetime(2026, 3, 14, tzinfo=UTC), datetime(2026, 3, 15, tzinfo=UTC)),
        ("last_week", datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 3, 15, tzinfo=UTC)),
        ("last_month", datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
    ],
)
def test_a_relative_period_is_whole_utc_days_before_today(name: str, start: datetime, end: datetime) -> None:
    assert period_of(check_period({"period": name}, now=NOW)) == Period(start, end)


@pytest.mark.parametrize(
    ("name", "start"),
    [("today", datetime(2026, 3, 15, tzinfo=UTC)), ("this_week", datetime(2026, 3, 9, tzinfo=UTC))],
)
def test_today_and_this_week_run_up_to_now(name: str, start: datetime) -> None:
    assert period_of(check_period({"period": name}, now=NOW)) == Period(start, NOW)


def test_dates_and_times_without_an_offset_are_utc() -> None:
    checked = check_period({"start": "2026-01-01", "end": "2026-01-02T06:00:00"})
    assert checked == {"start": "2026-01-01T00:00:00+00:00", "end": "2026-01-02T06:00:00+00:00"}
    start, end = period_of(checked)
    assert (end - start).total_seconds() == 30 * 3600


def test_a_types_own_parameters_pass_when_named_and_are_left_to_it() -> None:
    params = {"period": "last_day", "instance": "national"}
    assert set(check_period(params, others=("instance",), now=NOW)) == {"start", "end"}
    with pytest.raises(Unprocessable) as err:
        check_period(params, now=NOW)
    assert [e["field"] for e in err.value.errors or []] == ["params.instance"]


def test_a_period_longer_than_allowed_names_the_end() -> None:
    with pytest.raises(Unprocessable) as err:
        check_period({"start": "2026-01-01", "end": "2026-03-01"}, max_days=31)
    assert err.value.errors == [{"field": "params.end", "message": "the period may cover at most 31 days"}]
