"""core.untrusted: what a client sends is compared and parsed without ever raising."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core import Unprocessable, bounded_day, bounded_int, check_period, constant_time_equal, defuse_formula
from core.testing import user_headers


@pytest.mark.parametrize(
    ("given", "expected", "equal"),
    [
        ("abc", "abc", True),
        (b"abc", "abc", True),
        ("é", "é", True),
        ("é" * 64, "0" * 64, False),
        ("\ud800", "x", False),  # a lone surrogate (a decoded query string may hold one)
        (None, "x", False),
        ("x", None, False),
        ("", "", True),
    ],
)
def test_constant_time_equal_compares_any_text_and_never_raises(given: object, expected: object, equal: bool) -> None:
    assert constant_time_equal(given, expected) is equal  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("42", 42),
        (" 42 ", 42),
        ("-7", -7),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),
        ("-9223372036854775809", None),
        ("9" * 5000, None),
        ("²", None),
        ("１２", None),
        ("", None),
        ("-", None),
        ("1e3", None),
        (None, None),
    ],
)
def test_bounded_int_reads_ascii_integers_within_int64(text: str | None, number: int | None) -> None:
    assert bounded_int(text) == number


def test_bounded_int_applies_the_callers_bounds() -> None:
    assert bounded_int("0", low=1) is None and bounded_int("1001", high=1000) is None and bounded_int("5", 1, 10) == 5


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
        ("2024-03-01T10:00:00Z", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01T10:00:00+02:00", datetime(2024, 3, 1, 8, tzinfo=UTC)),
        ("9998-12-31", datetime(9998, 12, 31, tzinfo=UTC)),
        ("9999-12-31", None),
        ("0001-01-01T00:00:00+14:00", None),
        ("2024-03-01T10:00:00", None),
        ("2024-02-30", None),
        ("x" * 5000, None),
        (None, None),
    ],
)
def test_bounded_day_reads_days_that_leave_room_for_offsets(text: str | None, day: datetime | None) -> None:
    assert bounded_day(text) == day


@pytest.mark.parametrize(
    "text",
    ["=1", "+1", "-1", "@x", "\tx", "\rx", " =1", "\n=1", "\r\n+1", "\u00a0-1", "\u2003@x", "\u3000=1", "\u200b=1"]
    + ["\uff1d1", "\uff0b1", "\uff0d1", "\uff20x", " \uff1d1"],
)
def test_defuse_formula_quotes_what_a_spreadsheet_would_run(text: str) -> None:
    assert defuse_formula(text) == "'" + text


@pytest.mark.parametrize("value", ["abc", " abc", "1-2", "a=b", "", 5, -5, 1.5, None, True])
def test_defuse_formula_leaves_everything_else_alone(value: object) -> None:
    assert defuse_formula(value) == value


@pytest.mark.parametrize(
    "query",
    ["since=9999-12-31T23:59:59-12:00", "until=0001-01-01T00:00:00%2B14:00", "until=9999-12-31T23:59:59.999999-14:00"],
    ids=["since-9999-utc-12", "until-year-1-utc+14", "until-9999-utc-14"],
)
async def test_a_time_filter_at_the_ends_of_the_calendar_is_a_422(client, query: str) -> None:  # type: ignore[no-untyped-def]
    admin = await user_headers(client.gateway, "admin")
    for path in ("/api/logs", "/api/messages", "/api/deliveries", "/admin/logs"):
        r = await client.get(f"{path}?{query}", headers=admin)
        assert r.status_code == 422, (path, r.status_code, r.text[:200])


@pytest.mark.parametrize("bound", ["start", "end"])
def test_a_report_period_at_the_ends_of_the_calendar_is_a_422_naming_its_field(bound: str) -> None:
    params = {"start": "2026-01-01", "end": "2026-02-01"} | {bound: "9999-12-31" if bound == "end" else "0001-01-01"}
    with pytest.raises(Unprocessable) as raised:
        check_period(params, max_days=10**7)
    assert raised.value.errors[0]["field"] == f"params.{bound}"
