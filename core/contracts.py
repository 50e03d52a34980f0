"""The plugin contracts: inbound adapters and outbound destinations.

Third-party plugins are written against these names. They may gain optional keyword
arguments; they never lose or rename one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.responses import Response

from core.errors import AuthenticationError
from core.messages import StandardMessage

if TYPE_CHECKING:
    from starlette.requests import Request


class Adapter:
    """An inbound platform, served at ``/webhooks/{name}``.

    Subclasses set ``name`` and implement ``parse``. The other methods have working
    defaults: no GET handshake (``verify`` answers 405), authentication by an API key bound
    to this platform (``authenticate``), and the core's JSON acknowledgement (``respond``).
    """

    name: ClassVar[str] = ""
    # Keys of this platform's payloads that hold personal data (phone numbers, message text):
    # redacted, beside ``[audit] redact_keys``, wherever the audit log captures a payload.
    redact_keys: ClassVar[tuple[str, ...]] = ()

    async def verify(self, request: Request) -> Response | None:
        """Answer a GET handshake (e.g. a subscription challenge); ``None``: no handshake."""
        return None

    async def authenticate(self, request: Request, body: bytes) -> None:
        """Check the request's signature or token over the exact ``body`` bytes.

        Raise ``AuthenticationError`` when it is missing or wrong. The default accepts an
        API key (``Authorization: Bearer`` or ``X-API-Key``) with the scope
        ``webhooks:<name>``, as resolved by the core's authentication.
        """
        principal = getattr(request.state, "principal", None)
        if principal is None:
            raise AuthenticationError("an API key is required")
        if not principal.has_scope(f"webhooks:{self.name}"):
            raise AuthenticationError("this key may not post to this platform", status_code=403)

    async def parse(self, request: Request, body: bytes) -> list[StandardMessage]:
        """Turn the request body into standard messages (an empty list is fine).

        Raise ``core.errors.BadRequest`` (or another ``HTTPError``) for a structurally
        invalid body; keep what cannot be understood as ``kind="unsupported"`` with ``raw``.
        """
        raise NotImplementedError(f"adapter {self.name!r} does not implement parse()")

    def respond(self, messages: list[StandardMessage]) -> Response | None:
        """The answer to the platform; ``None`` for the core's default 200 JSON."""
        return None


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    """What a destination may know about the delivery it is performing."""

    id: uuid.UUID
    destination: str
    attempt: int
    max_attempts: int
    idempotency_key: str
    created_at: datetime
    options: dict[str, Any] = field(default_factory=dict)
    # What the previous attempt recorded (its DeliveryError.detail), e.g. a remote job id to
    # poll instead of submitting again. None on the first attempt.
    previous_detail: dict[str, Any] | None = None


@dataclass(slots=True)
class DeliveryResult:
    """A successful delivery: the far side's status, its reference for the item, and details."""

    status_code: int | None = None
    remote_ref: str | None = None
    detail: dict[str, Any] | None = None


class Destination:
    """An outbound system. Subclasses set ``name`` and implement ``deliver``.

    ``max_attempts`` and ``concurrency`` override the core's defaults for this destination
    (``None``: use ``[delivery]`` settings).
    """

    name: str = ""
    max_attempts: int | None = None
    concurrency: int | None = None

    async def deliver(self, message: StandardMessage, delivery: DeliveryInfo) -> DeliveryResult:
        """Send ``message``; return a ``DeliveryResult`` or raise ``DeliveryError``.

        Pass ``delivery.idempotency_key`` to the far side where it supports one: delivery is
        at-least-once, and a retry after a lost answer must not create a duplicate.
        """
        raise NotImplementedError(f"destination {self.name!r} does not implement deliver()")

    def retry_delay(self, attempt: int) -> float | None:
        """Seconds before attempt ``attempt + 1``; ``None`` for the core's backoff schedule."""
        return None
