"""When to try a failed delivery again, and which HTTP answers are worth retrying."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from core.errors import DeliveryError
from core.untrusted import bounded_int

if TYPE_CHECKING:
    import httpx

    from core.config.settings import DeliverySettings

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def retry_schedule(attempt: int, settings: DeliverySettings, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): exponential, capped, jittered.

    With the defaults (60 s × 3ⁿ, capped at 12 h, ±20 %) eight attempts span about a day.
    """
    base = min(settings.backoff_base * settings.backoff_factor ** (attempt - 1), settings.backoff_max)
    spread = base * settings.jitter
    return max(0.0, base + (rng or random).uniform(-spread, spread))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date. ``None`` if absent or bad."""
    if not value:
        return None
    value = value.strip()
    seconds = bounded_int(value, low=0)
    if seconds is not None:
        return float(seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def excerpt(text: str, limit: int = 2000) -> str:
    """The start of a response body, as stored with the attempt. A NUL becomes U+FFFD, as
    PostgreSQL stores it (``core.storage.db.json_rows``), so the excerpt reads the same on SQLite."""
    text = text if len(text) <= limit else text[:limit] + "…"
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def raise_for_response(response: httpx.Response, *, what: str = "destination") -> None:
    """Raise ``DeliveryError`` for a non-2xx answer, classified the gateway's way.

    408, 425, 429 and 5xx are retried (``Retry-After`` honoured); any other 4xx is permanent.
    """
    if not response.is_success:
        raise_for_status(
            response.status_code, response.text, retry_after=response.headers.get("retry-after"), what=what
        )


def raise_for_status(status: int, text: str, *, retry_after: str | None = None, what: str = "destination") -> None:
    """``raise_for_response`` for an answer read by other means: status, body text, ``Retry-After``."""
    if 200 <= status < 300:
        return
    raise DeliveryError(
        f"{what} answered HTTP {status}",
        retryable=status in RETRYABLE_STATUS or status >= 500,
        retry_after=parse_retry_after(retry_after) if status in (429, 503) else None,
        status_code=status,
        detail={"response": excerpt(text)},
    )
