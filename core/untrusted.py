"""Text from outside, handled without harm: secrets compared, integers and days parsed with bounds,
cells defused before a spreadsheet opens them.

Anything a client sends (a header, a query parameter, a form field) may be non-ASCII, absurdly
long or out of every range the database and ``datetime`` accept. ``hmac.compare_digest`` raises
``TypeError`` on a non-ASCII ``str``; ``int()`` accepts ``"²"``-like digits only to fail on them
and refuses more than 4,300 digits; a day near year 9999 overflows once a day or a zone is
added. Each of those was a 500 for an unauthenticated caller. These helpers answer "no" (``False``
or ``None``) instead, so the caller turns bad input into its 400 or 401. And text written to a
CSV or XLSX export may be run by the spreadsheet that opens it (``defuse_formula``).
"""

from __future__ import annotations

import hmac
import re
from datetime import UTC, date, datetime, time
from typing import Any

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# What a spreadsheet may run as a formula (OWASP's CSV injection list, widened): = + - @ and their
# full-width and small forms, after any leading whitespace (spaces of every kind, line feeds,
# zero-width characters), and a leading tab or carriage return.
_FORMULA = re.compile(
    r"[\t\r]|[\s\u200b-\u200d\u2060\ufeff]*[=+\-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b\u2212]"
)
# Room for any offset a caller adds (a day, a week, a zone): 9999-12-31 + 1 day, or 0001-01-01 in
# UTC+14 converted to UTC, overflows.
_FIRST_YEAR, _LAST_YEAR = 2, 9998


def _as_bytes(value: str | bytes) -> bytes:
    # surrogatepass: a lone surrogate (a decoded query string may hold one) encodes instead of raising.
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def constant_time_equal(given: str | bytes | None, expected: str | bytes | None) -> bool:
    """Whether ``given`` equals ``expected``, in time that does not depend on where they differ.

    Strings are compared as their UTF-8 bytes, so any text a client sends (non-ASCII, a lone
    surrogate) is simply unequal, never an exception. ``None`` on either side is unequal.
    """
    if given is None or expected is None:
        return False
    return hmac.compare_digest(_as_bytes(given), _as_bytes(expected))


def bounded_int(text: str | None, low: int = INT64_MIN, high: int = INT64_MAX) -> int | None:
    """``text`` as an integer from ``low`` to ``high`` (default: what a 64-bit column holds), else ``None``.

    Only ASCII digits with an optional leading ``-`` (``str.isdigit`` also accepts ``"²"``, which
    ``int`` then refuses); surrounding spaces are ignored; more digits than any 64-bit number has is
    refused before it is converted.
    """
    if text is None:
        return None
    text = text.strip()
    digits = text[1:] if text.startswith("-") else text
    if not digits or len(digits) > 19 or not digits.isascii() or not digits.isdigit():
        return None
    number = int(text)
    return number if low <= number <= high else None


def bounded_day(text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (midnight UTC) or an RFC 3339 time with its zone, as an aware UTC datetime; else ``None``.

    Years 2 to 9998 only, so adding a day or a week, or converting a zone, never overflows.
    A time without a zone is refused (which zone would it be?).
    """
    if not text or len(text) > 64:
        return None
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), time(0), UTC)
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    try:
        return in_range(parsed)
    except ValueError:
        return None


def in_range(value: datetime) -> datetime:
    """``value`` (aware; naive is taken as UTC) in UTC; ``ValueError`` outside years 2 to 9998.

    For validators of times a client sends: a time the database and ``datetime`` cannot shift
    by a day or a zone is refused with the field's 422 instead of overflowing later.
    """
    if not _FIRST_YEAR <= value.year <= _LAST_YEAR:
        raise ValueError(f"must lie between the years {_FIRST_YEAR} and {_LAST_YEAR}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def defuse_formula(value: Any) -> Any:
    """``value`` safe for a CSV or XLSX cell: text a spreadsheet would run as a formula gets a leading ``'``.

    That is text starting with ``=``, ``+``, ``-``, ``@`` or their full-width forms (``＝＋－＠``),
    also after leading whitespace (space, line feed, no-break space, any Unicode space), and text
    starting with a tab or carriage return. Anything else, and every non-text value, is returned
    as it is. An importer reading its own exports back removes the quote where ``defuse_formula``
    would have added it: ``text[1:]`` when ``defuse_formula(text[1:]) == text``.
    """
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value
    return value
