"""What a delivery attempt sent and what came back, as stored with the attempt.

While the delivery engine runs a destination's ``deliver``, every request made through the
gateway's HTTP client (``gateway.http``) is recorded here: method, URL, headers and body, and the
answer's status, headers and body (or the error when none came). A destination with a client of
its own (the ``http`` plugin's direct aiohttp use, SMTP in ``gateway.mail``) calls
``record_exchange`` itself. Outside an attempt nothing is recorded and nothing is read.

The engine stores the exchanges redacted (``stored``): header and field values whose names
match ``[audit] redact_keys`` are masked, as are ``Authorization``, ``Cookie`` and API-key
headers always; bodies are cut at ``[audit] max_payload_bytes``. They carry personal data: they
are never logged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from core.redaction import REDACTED, Redactor

# Exchanges kept per attempt (a destination that pages through an API makes many): the first
# ones, then a count of the rest.
MAX_EXCHANGES = 20

# Header names whose redaction verdicts an ExchangeRedactor keeps.
HEADER_VERDICTS = 1024
# Headers masked whatever [audit] redact_keys says.
ALWAYS_REDACTED = ("authorization", "cookie", "api-key", "apikey", "api_key", "x-auth", "token", "secret")

Headers = Iterable[tuple[str, str]] | Mapping[str, str]
Body = bytes | str | None


@dataclass
class Exchange:
    """One request and its answer (``status`` None and ``error`` set when none came)."""

    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: Body = None
    status: int | None = None
    response_headers: list[tuple[str, str]] | None = None
    response_body: Body = None
    error: str | None = None


_current: ContextVar[list[Exchange] | None] = ContextVar("switchboard_exchanges", default=None)


def recording() -> bool:
    """Whether exchanges are being recorded (an attempt is running in this context)."""
    return _current.get() is not None


@contextmanager
def capture() -> Iterator[list[Exchange]]:
    """Record the exchanges made in this context (and the tasks it starts) into the list yielded."""
    exchanges: list[Exchange] = []
    token = _current.set(exchanges)
    try:
        yield exchanges
    finally:
        _current.reset(token)


def _pairs(headers: Headers | None) -> list[tuple[str, str]]:
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(k), str(v)) for k, v in items]


def record_exchange(
    method: str,
    url: str,
    *,
    headers: Headers | None = None,
    body: Body = None,
    status: int | None = None,
    response_headers: Headers | None = None,
    response_body: Body = None,
    error: str | None = None,
) -> None:
    """Record one exchange of the running delivery attempt; does nothing outside one.

    For a destination that talks to its far side without ``gateway.http`` (which records by
    itself): the request's ``method``, ``url``, ``headers`` and ``body``, and the answer's
    ``status``, ``response_headers`` and ``response_body``, or the ``error`` when none came.
    Record it unredacted: the attempt stores it redacted and cut (``[audit]``).
    """
    exchanges = _current.get()
    if exchanges is None:
        return
    exchanges.append(
        Exchange(
            method=method,
            url=url,
            request_headers=_pairs(headers),
            request_body=body,
            status=status,
            response_headers=_pairs(response_headers) if response_headers is not None else None,
            response_body=response_body,
            error=error,
        )
    )


class ExchangeRedactor:
    """Redacts and cuts exchanges for storage: ``[audit] redact_keys`` and ``max_payload_bytes``."""

    def __init__(self, redact: Redactor, max_body: int) -> None:
        self.redact = redact
        self.max_body = max_body
        words = "|".join(re.escape(w) for w in redact.words)
        # key=value and "key": "value" in text that is not JSON (a form, a cut-off JSON body).
        key = r"""(?P<key>["']?[\w.-]*(?:""" + words + r""")[\w.-]*["']?\s*[:=]\s*)"""
        value = r"""(?P<value>"(?:[^"\\]|\\.)*"|'[^']*'|[^\s&,;}<"']+)"""
        self._inline = re.compile(key + value, re.IGNORECASE) if words else None
        self._header_verdicts: dict[str, bool] = {}

    def header_sensitive(self, name: str) -> bool:
        # Every attempt sends and gets the same few header names: each name's verdict is kept,
        # for a bounded number of names (the far side may send any).
        verdict = self._header_verdicts.get(name)
        if verdict is None:
            lowered = name.lower()
            verdict = any(w in lowered for w in ALWAYS_REDACTED) or self.redact.is_sensitive(name)
            if len(self._header_verdicts) < HEADER_VERDICTS:
                self._header_verdicts[name] = verdict
        return verdict

    def headers(self, headers: list[tuple[str, str]]) -> list[list[str]]:
        return [[k, REDACTED if self.header_sensitive(k) else v] for k, v in headers]

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.password:
            netloc = f"{parts.username or ''}:{REDACTED}@{parts.hostname or ''}"
            if parts.port:
                netloc += f":{parts.port}"
            parts = parts._replace(netloc=netloc)
        if parts.query:
            query = parse_qsl(parts.query, keep_blank_values=True)
            parts = parts._replace(
                query=urlencode([(k, REDACTED if self.redact.is_sensitive(k) else v) for k, v in query], safe="[]")
            )
        return urlunsplit(parts)

    def body(self, body: Body, content_type: str) -> dict[str, Any] | None:
        """``{"text", "size", "truncated"}``, or ``{"size", "binary": True}`` for bytes that are not text."""
        if body is None or body == b"" or body == "":
            return None
        raw = body.encode() if isinstance(body, str) else body
        size = len(raw)
        try:
            text = body if isinstance(body, str) else body.decode()
        except UnicodeDecodeError:
            return {"size": size, "binary": True}
        text = self._redacted_text(text, content_type)
        truncated = len(text) > self.max_body
        if truncated:
            text = text[: self.max_body]
        # PostgreSQL stores no NUL in JSON; the same text reads back on both stacks.
        return {"text": text.replace("\x00", "\ufffd"), "size": size, "truncated": truncated}

    def _redacted_text(self, text: str, content_type: str) -> str:
        kind = content_type.split(";")[0].strip().lower()
        if kind.endswith("json") or text[:1] in "{[":
            if not self.redact.mentioned(text) and "\\u" not in text:
                # No redact word anywhere in it, nor a \u escape that could spell one: no key
                # to mask, and the text is kept as it was sent (parsing it would change nothing
                # but its layout; the console indents JSON when it shows it).
                return text
            try:
                data = json.loads(text)
            except ValueError:
                pass
            else:
                return json.dumps(self.redact(data), ensure_ascii=False)
        if kind == "application/x-www-form-urlencoded":
            pairs = parse_qsl(text, keep_blank_values=True)
            return urlencode([(k, REDACTED if self.redact.is_sensitive(k) else v) for k, v in pairs])
        if self._inline is None:
            return text
        return self._inline.sub(lambda m: m.group("key") + REDACTED, text)


def _content_type(headers: list[tuple[str, str]] | None) -> str:
    for k, v in headers or ():
        if k.lower() == "content-type":
            return v
    return ""


def stored(exchanges: list[Exchange], redactor: ExchangeRedactor) -> tuple[list[Any] | None, list[Any] | None]:
    """The ``request`` and ``response`` columns of an attempt: one entry per exchange, in order.

    A response entry is ``None``-free: ``{"error": ...}`` when no answer came. More than
    ``MAX_EXCHANGES`` exchanges end with an entry ``{"omitted": n}`` in both lists.
    """
    if not exchanges:
        return None, None
    requests: list[Any] = []
    responses: list[Any] = []
    for e in exchanges[:MAX_EXCHANGES]:
        requests.append(
            {
                "method": e.method,
                "url": redactor.url(e.url),
                "headers": redactor.headers(e.request_headers),
                "body": redactor.body(e.request_body, _content_type(e.request_headers)),
            }
        )
        if e.status is None:
            responses.append({"error": e.error or "no answer"})
        else:
            responses.append(
                {
                    "status": e.status,
                    "headers": redactor.headers(e.response_headers or []),
                    "body": redactor.body(e.response_body, _content_type(e.response_headers)),
                }
            )
    if len(exchanges) > MAX_EXCHANGES:
        omitted = {"omitted": len(exchanges) - MAX_EXCHANGES}
        requests.append(omitted)
        responses.append(omitted)
    return requests, responses
