"""DHIS2 period identifiers: which period type an ISO period string is, and whether it exists.

Every fixed period type of DHIS2 is known, with its own format: ``2024`` (Yearly),
``2024S1``/``2024AprilS1``/``2024NovS1`` (six-monthly), ``2024Q1``/``2024NovQ1``
(quarterly), ``202401B`` (bi-monthly), ``202401`` (Monthly), ``2024W1`` and the
``Wed``/``Thu``/``Sat``/``Sun`` weeks, ``2024BiW1`` (bi-weekly), ``20240131`` (Daily) and
the financial years ``2024April``/``July``/``Sep``/``Oct``/``Nov``. A week number must
exist in its year (53 only in long years), a day must be a real date.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

FORMATS = {
    "Daily": "yyyyMMdd",
    "Weekly": "yyyyWn",
    "WeeklyWednesday": "yyyyWedWn",
    "WeeklyThursday": "yyyyThuWn",
    "WeeklySaturday": "yyyySatWn",
    "WeeklySunday": "yyyySunWn",
    "BiWeekly": "yyyyBiWn",
    "Monthly": "yyyyMM",
    "BiMonthly": "yyyyMMB",
    "Quarterly": "yyyyQn",
    "QuarterlyNov": "yyyyNovQn",
    "SixMonthly": "yyyySn",
    "SixMonthlyApril": "yyyyAprilSn",
    "SixMonthlyNov": "yyyyNovSn",
    "Yearly": "yyyy",
    "FinancialApril": "yyyyApril",
    "FinancialJuly": "yyyyJuly",
    "FinancialSep": "yyyySep",
    "FinancialOct": "yyyyOct",
    "FinancialNov": "yyyyNov",
}

# The weekday each weekly type starts on (Monday = 0).
_WEEK_STARTS = {"W": 0, "WedW": 2, "ThuW": 3, "SatW": 5, "SunW": 6}
_WEEKLY_NAMES = {"W": "Weekly", "WedW": "WeeklyWednesday", "ThuW": "WeeklyThursday", "SatW": "WeeklySaturday"}
_WEEKLY_NAMES["SunW"] = "WeeklySunday"


def _first_week_start(year: int, weekday: int) -> date:
    # Week 1 is the week holding January 4th: at least four of its days are in the year.
    jan4 = date(year, 1, 4)
    return jan4 - timedelta(days=(jan4.weekday() - weekday) % 7)


def weeks_in_year(year: int, weekday: int = 0) -> int:
    """52 or 53: the weeks (starting on ``weekday``) that year has, ISO-style."""
    return (_first_week_start(year + 1, weekday) - _first_week_start(year, weekday)).days // 7


def _weekly(year: int, marker: str, number: int) -> str | None:
    if 1 <= number <= weeks_in_year(year, _WEEK_STARTS[marker]):
        return _WEEKLY_NAMES[marker]
    return None


def _bi_weekly(year: int, number: int) -> str | None:
    return "BiWeekly" if 1 <= number <= (weeks_in_year(year) + 1) // 2 else None


def _daily(year: int, month: int, day: int) -> str | None:
    try:
        date(year, month, day)
    except ValueError:
        return None
    return "Daily"


_RULES: list[tuple[re.Pattern[str], Callable[..., str | None]]] = [
    (re.compile(r"^(\d{4})$"), lambda y: "Yearly"),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), _daily),
    (re.compile(r"^(\d{4})(0[1-9]|1[0-2])$"), lambda y, m: "Monthly"),
    (re.compile(r"^(\d{4})(0[1-6])B$"), lambda y, m: "BiMonthly"),
    (re.compile(r"^(\d{4})Q([1-4])$"), lambda y, n: "Quarterly"),
    (re.compile(r"^(\d{4})NovQ([1-4])$"), lambda y, n: "QuarterlyNov"),
    (re.compile(r"^(\d{4})S([12])$"), lambda y, n: "SixMonthly"),
    (re.compile(r"^(\d{4})AprilS([12])$"), lambda y, n: "SixMonthlyApril"),
    (re.compile(r"^(\d{4})NovS([12])$"), lambda y, n: "SixMonthlyNov"),
    (re.compile(r"^(\d{4})(W|WedW|ThuW|SatW|SunW)([1-9]\d?)$"), _weekly),
    (re.compile(r"^(\d{4})BiW([1-9]\d?)$"), _bi_weekly),
    (re.compile(r"^(\d{4})April$"), lambda y: "FinancialApril"),
    (re.compile(r"^(\d{4})July$"), lambda y: "FinancialJuly"),
    (re.compile(r"^(\d{4})Sep$"), lambda y: "FinancialSep"),
    (re.compile(r"^(\d{4})Oct$"), lambda y: "FinancialOct"),
    (re.compile(r"^(\d{4})Nov$"), lambda y: "FinancialNov"),
]


def period_type(period: object) -> str | None:
    """The DHIS2 period type of ``period`` (e.g. ``"Monthly"``), or ``None`` if it is not a valid period."""
    if not isinstance(period, str):
        return None
    for pattern, rule in _RULES:
        match = pattern.match(period)
        if match is None:
            continue
        year = int(match.group(1))
        if year < 1000:
            return None
        args = [int(g) if g.isdigit() else g for g in match.groups()]
        return rule(*args)
    return None


def explain(period: object) -> str:
    """Why ``period`` is not a valid DHIS2 period (for an error message)."""
    shown = repr(period) if isinstance(period, str) else f"a {type(period).__name__}"
    return (
        f"{shown} is not a DHIS2 period: expected e.g. 2024 (yearly), 2024S1, 2024AprilS1, 2024NovS1, "
        "2024Q1, 2024NovQ1, 202401B, 202401 (monthly), 2024W5, 2024WedW5/ThuW/SatW/SunW, 2024BiW3, "
        "20240131 (daily), 2024April/July/Sep/Oct/Nov (financial years); weeks and days must exist"
    )


_FINANCIAL_START = {"FinancialApril": 4, "FinancialJuly": 7, "FinancialSep": 9, "FinancialOct": 10, "FinancialNov": 11}
_WEEKLY_MARKERS = {name: marker for marker, name in _WEEKLY_NAMES.items()}


def period_of(day: date, type_name: str) -> str:
    """The period of type ``type_name`` that holds ``day``: ``period_of(date(2024, 1, 31), "Monthly")`` → ``202401``.

    Periods spanning two calendar years are named by the year they start in (``2024April``
    is April 2024 to March 2025; ``2024NovS1`` is November 2024 to April 2025).
    """
    year, month = day.year, day.month
    if type_name == "Daily":
        return day.strftime("%Y%m%d")
    if type_name in _WEEKLY_MARKERS:
        marker = _WEEKLY_MARKERS[type_name]
        start = day - timedelta(days=(day.weekday() - _WEEK_STARTS[marker]) % 7)
        week_year = (start + timedelta(days=3)).year
        number = (start - _first_week_start(week_year, _WEEK_STARTS[marker])).days // 7 + 1
        return f"{week_year}{marker}{number}"
    if type_name == "BiWeekly":
        iso_year, week, _ = day.isocalendar()
        return f"{iso_year}BiW{(week + 1) // 2}"
    if type_name == "Monthly":
        return f"{year}{month:02d}"
    if type_name == "BiMonthly":
        return f"{year}{(month - 1) // 2 + 1:02d}B"
    if type_name == "Quarterly":
        return f"{year}Q{(month - 1) // 3 + 1}"
    if type_name == "SixMonthly":
        return f"{year}S{1 if month <= 6 else 2}"
    if type_name == "SixMonthlyApril":
        if month < 4:
            return f"{year - 1}AprilS2"
        return f"{year}AprilS{1 if month <= 9 else 2}"
    if type_name == "SixMonthlyNov":
        if month < 5:
            return f"{year - 1}NovS1"
        return f"{year}NovS{2 if month <= 10 else 1}"
    if type_name == "Yearly":
        return str(year)
    if type_name in _FINANCIAL_START:
        first_month = _FINANCIAL_START[type_name]
        return f"{year if month >= first_month else year - 1}{type_name.removeprefix('Financial')}"
    raise ValueError(f"cannot compute a {type_name!r} period; use one of {', '.join(sorted(_PERIOD_OF_TYPES))}")


_PERIOD_OF_TYPES = {
    "Daily",
    *_WEEKLY_MARKERS,
    "BiWeekly",
    "Monthly",
    "BiMonthly",
    "Quarterly",
    "SixMonthly",
    "SixMonthlyApril",
    "SixMonthlyNov",
    "Yearly",
    *_FINANCIAL_START,
}
