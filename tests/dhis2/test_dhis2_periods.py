"""Every DHIS2 period type is recognised; periods that do not exist are not."""

from __future__ import annotations

from datetime import date

import pytest

from plugins.dhis2.submission.periods import period_of, period_type, weeks_in_year


@pytest.mark.parametrize(
    ("period", "kind"),
    [
        ("2024", "Yearly"),
        ("2024S2", "SixMonthly"),
        ("2024AprilS1", "SixMonthlyApril"),
        ("2024NovS2", "SixMonthlyNov"),
        ("2024Q4", "Quarterly"),
        ("2024NovQ2", "QuarterlyNov"),
        ("202406B", "BiMonthly"),
        ("202402", "Monthly"),
        ("2020W53", "Weekly"),
        ("2024W1", "Weekly"),
        ("2024WedW5", "WeeklyWednesday"),
        ("2024ThuW52", "WeeklyThursday"),
        ("2024SatW1", "WeeklySaturday"),
        ("2024SunW3", "WeeklySunday"),
        ("2020BiW27", "BiWeekly"),
        ("20240229", "Daily"),
        ("2024April", "FinancialApril"),
        ("2024July", "FinancialJuly"),
        ("2024Sep", "FinancialSep"),
        ("2024Oct", "FinancialOct"),
        ("2024Nov", "FinancialNov"),
    ],
)
def test_each_period_type_is_recognised(period: str, kind: str) -> None:
    assert period_type(period) == kind


@pytest.mark.parametrize(
    "period",
    [
        "2021W53",  # 2021 has 52 ISO weeks
        "2024W0",
        "2024W01",
        "2021BiW27",
        "20230229",
        "202413",
        "202407B",
        "2024Q5",
        "2024S3",
        "2024AprilS3",
        "2024Dec",
        "2024-01",
        "24",
        "0999",
        "",
        None,
        202401,
    ],
)
def test_periods_that_do_not_exist_are_refused(period: object) -> None:
    assert period_type(period) is None


def test_long_years_have_53_weeks() -> None:
    assert [weeks_in_year(y) for y in (2019, 2020, 2021, 2026)] == [52, 53, 52, 53]


@pytest.mark.parametrize(
    ("day", "kind", "period"),
    [
        (date(2024, 3, 31), "Monthly", "202403"),
        (date(2021, 1, 3), "Weekly", "2020W53"),
        (date(2024, 1, 1), "WeeklyWednesday", "2023WedW52"),
        (date(2024, 2, 10), "FinancialApril", "2023April"),
        (date(2024, 12, 1), "SixMonthlyNov", "2024NovS1"),
        (date(2024, 2, 1), "SixMonthlyNov", "2023NovS1"),
        (date(2024, 10, 5), "SixMonthlyApril", "2024AprilS2"),
        (date(2024, 8, 30), "Quarterly", "2024Q3"),
    ],
)
def test_the_period_holding_a_day(day: date, kind: str, period: str) -> None:
    assert period_of(day, kind) == period
    assert period_type(period) == kind
