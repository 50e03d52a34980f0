"""The destination ``email``: replies in a conversation, sent over SMTP as replies in the thread.

The reply answers the thread's last message: ``In-Reply-To`` is its Message-ID, ``References``
the thread's chain, the subject ``Re: <the thread's subject>``. Its own Message-ID is made from
the delivery's idempotency key, so a retry after a lost answer sends the same Message-ID (and a
mail client shows it once), and it is recorded as the thread's last message.
"""

from __future__ import annotations

import base64
import logging
import re
from typing import Any

from core import DeliveryError, DeliveryInfo, DeliveryResult, Destination, Gateway, MailError, StandardMessage
from plugins.email import threads
from plugins.email.settings import EmailSettings

log = logging.getLogger("switchboard.email")
NAME = "email"
_SAFE = re.compile(r"[^A-Za-z0-9.\-_]")


def reply_subject(subject: str, prefix: str) -> str:
    stripped = subject.strip()
    if not stripped:
        return prefix.strip() or "Re:"
    return stripped if stripped.lower().startswith(prefix.strip().lower()) else f"{prefix}{stripped}"


class EmailDestination(Destination):
    """Sends outbound messages of e-mail conversations through ``gateway.mail``."""

    name = NAME

    def __init__(self, gateway: Gateway, settings: EmailSettings) -> None:
        self.gateway = gateway
        self.settings = settings

    def _message_id(self, delivery: DeliveryInfo) -> str:
        sender = self.gateway.settings.mail.sender or ""
        domain = _SAFE.sub("", sender.rpartition("@")[2].rstrip(">")) or "switchboard.invalid"
        return f"<{_SAFE.sub('', delivery.idempotency_key)}@{domain}>"

    async def deliver(self, message: StandardMessage, delivery: DeliveryInfo) -> DeliveryResult:
        """Send the reply; its Message-ID is the delivery's ``remote_ref``."""
        key = message.conversation_key or message.recipient or ""
        async with self.gateway.db.transaction() as conn:
            thread = await threads.find(conn, key)
        to = thread.reply_to if thread else key
        if "@" not in to:
            raise DeliveryError(f"no e-mail address to reply to in conversation {key!r}", retryable=False)
        subject = message.extra.get("subject")
        if not isinstance(subject, str) or not subject:
            subject = reply_subject(thread.subject if thread else "", self.settings.reply_prefix)
        message_id = self._message_id(delivery)
        headers = {"Message-ID": message_id}
        if thread is not None:
            headers["In-Reply-To"] = thread.last_message_id
            headers["References"] = " ".join(thread.refs)
        attachments: list[tuple[str, bytes, str]] = [
            (a["filename"], base64.b64decode(a["content"]), a.get("mime_type", "application/octet-stream"))
            for a in message.extra.get("attachments", [])
            if isinstance(a, dict) and "content" in a
        ]
        html: Any = message.extra.get("html")
        try:
            await self.gateway.mail.send(
                to,
                subject,
                message.text or "",
                html=html if isinstance(html, str) else None,
                attachments=attachments,
                headers=headers,
            )
        except MailError as err:
            permanent = not self.gateway.mail.configured or (err.code is not None and err.code >= 500)
            if permanent:
                raise DeliveryError(str(err), retryable=False, status_code=err.code) from err
            # A transient SMTP answer (421 closing, 451 local error, 452 no room) or none at all
            # says the mail server is failing: the breaker counts it. Its code is an SMTP code, not
            # an HTTP status the breaker could read (421 there means "misdirected"): the message
            # carries it.
            raise DeliveryError(str(err), retryable=True) from err
        async with self.gateway.db.transaction() as conn:
            await threads.record(conn, key, message_id, subject=thread.subject if thread else subject, refs=[])
        log.info("e-mail reply %s sent in thread %s", message_id, "new" if thread is None else "known")
        return DeliveryResult(250, message_id, {"message_id": message_id})
