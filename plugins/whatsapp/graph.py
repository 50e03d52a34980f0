"""Graph API error answers, and which of them are worth trying again.

Graph reports most failures as HTTP 400 with ``{"error": {"code", "error_subcode", "type",
"message", "error_data": {"details"}, "fbtrace_id"}}``, so the code decides, not the status:
throttling and Meta's own transient errors are retried with backoff; everything else (a
closed 24-hour window, an invalid recipient or parameter, an expired token) is permanent.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from core import DeliveryError, bounded_int, parse_retry_after

# Rate limits: application (4), user (17), page (32), API (613), business account (80007),
# throughput (130429), spam (131048) and business–consumer pair (131056).
THROTTLING = frozenset({4, 17, 32, 613, 80007, 130429, 131048, 131056})
# Meta's own trouble: unknown (1), service (2), "something went wrong" (131000),
# service unavailable (131016), server temporarily unavailable (133004).
TRANSIENT = frozenset({1, 2, 131000, 131016, 133004})
HINTS = {
    131047: "more than 24 hours since the contact last wrote: only a template can reopen the conversation",
    131026: "the recipient cannot receive it (not on WhatsApp, an old app, or the business is blocked)",
    131030: "the recipient is not in the test number's allowed list",
    131021: "the recipient is the sending business number",
    190: "the access token is expired or invalid: set a new [plugins.whatsapp] access_token",
    131056: "too many messages to this contact in a short time",
    130429: "the number's throughput limit was reached",
    132001: "the template does not exist in this language, or is not approved",
    132000: "the template's parameter count does not match",
}


@dataclass(frozen=True)
class GraphError:
    """One Graph ``error`` object."""

    code: int | None
    message: str
    type: str | None = None
    error_subcode: int | None = None
    details: str | None = None
    fbtrace_id: str | None = None

    @classmethod
    def from_response(cls, response: httpx.Response) -> GraphError | None:
        try:
            data: Any = response.json()
        except ValueError:
            return None
        error = data.get("error") if isinstance(data, dict) else None
        if not isinstance(error, dict):
            return None
        error_data = error.get("error_data")
        details = error_data.get("details") if isinstance(error_data, dict) else None
        return cls(
            code=_int(error.get("code")),
            message=str(error.get("message") or error.get("title") or "Graph error"),
            type=_str(error.get("type")),
            error_subcode=_int(error.get("error_subcode")),
            details=_str(details),
            fbtrace_id=_str(error.get("fbtrace_id")),
        )

    @property
    def retryable(self) -> bool:
        return self.code in THROTTLING or self.code in TRANSIENT

    def describe(self) -> str:
        code = f"{self.code}" + (f"/{self.error_subcode}" if self.error_subcode else "")
        text = f"Graph error {code}: {self.message}"
        if self.details and self.details not in self.message:
            text += f" ({self.details})"
        if self.code in HINTS:
            text += f"; {HINTS[self.code]}"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def delivery_error(response: httpx.Response) -> DeliveryError:
    """The ``DeliveryError`` for a non-2xx Graph answer, classified by its error code."""
    status = response.status_code
    error = GraphError.from_response(response)
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if error is None:
        return DeliveryError(
            f"Graph answered HTTP {status} without an error object",
            retryable=status >= 500 or status in (408, 425, 429),
            retry_after=retry_after,
            status_code=status,
            detail={"response": response.text[:500]},
        )
    detail = error.as_dict()
    return DeliveryError(
        error.describe(),
        retryable=error.retryable or status >= 500 or status == 429,
        retry_after=retry_after,
        status_code=status,
        # Only the error object: Graph's answers can carry the contact's number elsewhere.
        detail={"graph_error": detail, "response": json.dumps({"error": detail})},
    )


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return bounded_int(value, low=0) if isinstance(value, str) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
