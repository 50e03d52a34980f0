"""Forward a message to any HTTP endpoint: signed, idempotent, retried by the core."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any

import httpx
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from core import DeliveryError, DeliveryInfo, DeliveryResult, Destination, StandardMessage, raise_for_response

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
        response = await self.gateway.http.request(
            self.settings.method,
            str(self.settings.url),
            content=body,
            headers=self.headers_for(body, delivery),
            timeout=httpx.Timeout(self.settings.timeout),
        )
        raise_for_response(response, what=f"{self.name} ({response.request.url.host})")
        return DeliveryResult(
            status_code=response.status_code,
            remote_ref=_remote_ref(response),
            detail={"response": response.text[:500]} if response.text else None,
        )


def _remote_ref(response: httpx.Response) -> str | None:
    if response.headers.get("location"):
        return response.headers["location"][:255]
    try:
        data: Any = response.json()
    except ValueError:
        return None
    if isinstance(data, dict):
        for key in ("id", "reference", "uid"):
            if isinstance(data.get(key), str | int):
                return str(data[key])[:255]
    return None
