"""The inbound adapter ``whatsapp``: Meta's verification handshake, signatures, payloads."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import TYPE_CHECKING, ClassVar

from starlette.responses import PlainTextResponse, Response

from core import Adapter, AuthenticationError, Forbidden, StandardMessage, constant_time_equal
from plugins.whatsapp.inbound import PLATFORM, parse_webhook

if TYPE_CHECKING:
    from starlette.requests import Request

    from plugins.whatsapp.settings import WhatsAppSettings

log = logging.getLogger("switchboard.whatsapp")
SIGNATURE_HEADER = "x-hub-signature-256"
# Meta's challenge is a number; anything much longer than one is not Meta.
_MAX_CHALLENGE = 256


def signature_matches(body: bytes, header: str, secrets: list[str]) -> bool:
    """Whether ``header`` (``sha256=<hex>``) is the HMAC-SHA256 of ``body`` under any of ``secrets``.

    Every secret is tried (no early exit), each comparison in constant time.
    """
    scheme, _, given = header.partition("=")
    if scheme != "sha256" or not given:
        return False
    given = given.strip().lower()
    results = [
        constant_time_equal(given, hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()) for secret in secrets
    ]
    return any(results)


class WhatsAppAdapter(Adapter):
    """``/webhooks/whatsapp``: the Cloud API's ``messages`` webhook field."""

    name = PLATFORM
    # Phone numbers, names, message text and places in the payloads: never in the audit log.
    redact_keys: ClassVar[tuple[str, ...]] = (
        "wa_id",
        "from",
        "recipient_id",
        "phones",
        "profile",
        "formatted_name",
        "first_name",
        "last_name",
        "body",
        "caption",
        "text",
        "emoji",
        "address",
        "email",
        "birthday",
        "latitude",
        "longitude",
    )

    def __init__(self, settings: WhatsAppSettings) -> None:
        self.settings = settings

    async def verify(self, request: Request) -> Response | None:
        """``GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…``: echo the challenge."""
        params = request.query_params
        token = params.get("hub.verify_token", "")
        challenge = params.get("hub.challenge", "")
        expected = self.settings.verify_token
        if (
            expected is None
            or params.get("hub.mode") != "subscribe"
            or not constant_time_equal(token, expected)
            or not challenge
            or len(challenge) > _MAX_CHALLENGE
        ):
            if expected is None:
                log.warning("WhatsApp verification refused: [plugins.whatsapp] verify_token is not set")
            raise Forbidden("verification failed")
        return PlainTextResponse(challenge, headers={"X-Content-Type-Options": "nosniff"})

    async def authenticate(self, request: Request, body: bytes) -> None:
        """Check ``X-Hub-Signature-256`` over the exact bytes received, against every app secret."""
        if not self.settings.app_secret:
            log.warning("WhatsApp webhook refused: [plugins.whatsapp] app_secret is not set")
            raise AuthenticationError("webhook signature cannot be checked")
        header = request.headers.get(SIGNATURE_HEADER)
        if header is None:
            raise AuthenticationError("missing X-Hub-Signature-256")
        if not signature_matches(body, header, self.settings.app_secret):
            raise AuthenticationError("invalid X-Hub-Signature-256")

    async def parse(self, request: Request, body: bytes) -> list[StandardMessage]:
        """Every message, status and reported error of the POST (see ``inbound``)."""
        return parse_webhook(body)
