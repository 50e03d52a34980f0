"""Forward a message to any HTTP endpoint: signed, idempotent, retried by the core."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from core import (
    DeliveryError,
    DeliveryInfo,
    DeliveryResult,
    Destination,
    StandardMessage,
    env_proxy,
    raise_for_status,
    record_exchange,
)

if TYPE_CHECKING:
    from core import Gateway
    from plugins.http.settings import HTTPDestinationSettings

_templates = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_templates.filters["tojson"] = lambda value: json.dumps(value, default=str)


class HTTPDestination(Destination):
    def __init__(self, name: str, settings: HTTPDestinationSettings, gateway: Gateway) -> None:
        self.name = name
        self.settings = settings
        self.gateway = gateway
        self.max_attempts = settings.max_attempts
        self.concurrency = settings.concurrency
        self._template = _templates.from_string(settings.template) if settings.template else None
        self._url = str(settings.url)
        parts = urlsplit(self._url)
        self._host = parts.hostname or self._url
        self._proxy = env_proxy(parts.scheme, self._host)
        self._timeout = aiohttp.ClientTimeout(total=settings.timeout)

    def render(self, message: StandardMessage, delivery: DeliveryInfo) -> bytes:
        data = message.to_dict()
        if self._template is None:
            return json.dumps(data, default=str, separators=(",", ":")).encode()
        try:
            return self._template.render(message=data, delivery={"id": str(delivery.id)}).encode()
        except Exception as err:  # a template that cannot render this message never will
            raise DeliveryError(f"template error: {err}", retryable=False) from err

    def headers_for(self, body: bytes, delivery: DeliveryInfo) -> dict[str, str]:
        s = self.settings
        headers = {
            "Content-Type": s.content_type,
            "Idempotency-Key": delivery.idempotency_key,
            "X-Switchboard-Delivery": str(delivery.id),
            "X-Switchboard-Attempt": str(delivery.attempt),
            **s.headers,
        }
        if s.secret:
            digest = hmac.new(s.secret.encode(), body, hashlib.sha256).hexdigest()
            headers[s.signature_header] = f"sha256={digest}"
        if s.auth is not None:
            if s.auth.type == "bearer":
                headers["Authorization"] = f"Bearer {s.auth.token}"
            elif s.auth.type == "basic":
                pair = f"{s.auth.username}:{s.auth.password}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
            else:
                headers[str(s.auth.header)] = str(s.auth.value)
        return headers

    async def deliver(self, message: StandardMessage, delivery: DeliveryInfo) -> DeliveryResult:
        body = self.render(message, delivery)
        headers = self.headers_for(body, delivery)
        # The gateway's aiohttp session (the connection pool under gateway.http) directly: a
        # delivery is the worker's hot path, and httpx's request and response objects cost
        # more CPU than the request itself (bench/ingest.py --drain-only).
        try:
            async with self.gateway.http_session.request(
                self.settings.method,
                self._url,
                data=body,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
                proxy=self._proxy,
            ) as response:
                text = await response.text(errors="replace")
                status, answer = response.status, response.headers
        except TimeoutError as err:
            record_exchange(self.settings.method, self._url, headers=headers, body=body, error="timed out")
            raise DeliveryError(f"timed out: {type(err).__name__}", retryable=True) from err
        except aiohttp.ClientError as err:
            error = f"{type(err).__name__}: {err}"
            record_exchange(self.settings.method, self._url, headers=headers, body=body, error=error)
            raise DeliveryError(f"connection failed: {error}", retryable=True) from err
        # This client is not gateway.http, which records by itself: the attempt stores it redacted.
        record_exchange(
            self.settings.method,
            self._url,
            headers=headers,
            body=body,
            status=status,
            response_headers=answer.items(),
            response_body=text,
        )
        raise_for_status(status, text, retry_after=answer.get("retry-after"), what=f"{self.name} ({self._host})")
        return DeliveryResult(
            status_code=status,
            remote_ref=_remote_ref(answer.get("location"), text),
            detail={"response": text[:500]} if text else None,
        )


def _remote_ref(location: str | None, text: str) -> str | None:
    if location:
        return location[:255]
    try:
        data: Any = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, dict):
        for key in ("id", "reference", "uid"):
            if isinstance(data.get(key), str | int):
                return str(data[key])[:255]
    return None
