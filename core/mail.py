"""Outbound e-mail: ``gateway.mail.send(...)`` over the SMTP server of ``[mail]``.

One connection per message (aiosmtplib): reports and one-time codes are rare enough that a
pool would only hold sockets the server closes anyway. Every failure is one type,
``MailError``, so callers need not know aiosmtplib.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import aiosmtplib

from core.config.settings import MailSettings
from core.errors import MailError
from core.pipeline.exchanges import record_exchange, recording
from core.redaction import mask_text

log = logging.getLogger("switchboard.mail")
Attachment = tuple[str, bytes, str]


class Mailer:
    """Sends e-mail through the ``[mail]`` SMTP server."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    @property
    def configured(self) -> bool:
        """Whether ``[mail] host`` and ``sender`` are set (``send`` raises ``MailError`` otherwise)."""
        return bool(self.settings.host and self.settings.sender)

    def build(
        self,
        to: str | Sequence[str],
        subject: str,
        text: str,
        *,
        html: str | None = None,
        attachments: Iterable[Attachment] = (),
        headers: Mapping[str, str] | None = None,
    ) -> EmailMessage:
        """The message ``send`` would send (text, an optional HTML alternative, attachments)."""
        recipients = [to] if isinstance(to, str) else list(to)
        if not recipients or any(not r or "@" not in r for r in recipients):
            raise MailError(f"invalid recipient list {mask_text(repr(recipients))}")
        if any(c in subject for c in "\r\n"):
            raise MailError("the subject may not contain line breaks")
        message = EmailMessage()
        message["From"] = self.settings.sender or ""
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        domain = (self.settings.sender or "switchboard.invalid").rpartition("@")[2] or None
        message["Message-ID"] = make_msgid(domain=domain)
        for name, value in (headers or {}).items():
            if any(c in name + value for c in "\r\n"):
                raise MailError(f"header {name!r} may not contain line breaks")
            if name in message:  # Message-ID, Date: the caller's own (a reply it tracks)
                message.replace_header(name, value)
            else:
                message[name] = value
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        for filename, content, mime in attachments:
            maintype, _, subtype = mime.partition("/")
            message.add_attachment(
                content, maintype=maintype or "application", subtype=subtype or "octet-stream", filename=filename
            )
        return message

    async def send(
        self,
        to: str | Sequence[str],
        subject: str,
        text: str,
        html: str | None = None,
        attachments: Iterable[Attachment] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send one message to ``to`` (an address or a list); raises ``MailError`` on any failure.

        ``attachments`` are ``(filename, bytes, mime type)``; ``headers`` are extra headers
        (``Reply-To``, ``In-Reply-To``, ``X-…``; a ``Message-ID`` or ``Date`` replaces the generated
        one). Returns once the server has accepted the message.
        """
        if not self.configured:
            raise MailError("mail is not configured: set [mail] host and sender")
        message = self.build(to, subject, text, html=html, attachments=attachments, headers=headers)
        s = self.settings

        def note(**answer: Any) -> None:
            # What a delivery attempt records of the exchange (core.pipeline.exchanges): the
            # headers, a summary of the content (not the content), the server's answer.
            if recording():
                summary = f"{len(message.as_bytes())} bytes; parts: " + ", ".join(
                    part.get_content_type() for part in message.walk() if not part.is_multipart()
                )
                record_exchange("SMTP", f"smtp://{s.host}:{s.port}", headers=message.items(), body=summary, **answer)

        try:
            errors, reply = await aiosmtplib.send(
                message,
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password,
                use_tls=s.ssl,
                start_tls=False if s.ssl else s.starttls,
                timeout=s.timeout,
            )
        except aiosmtplib.SMTPResponseException as err:
            note(status=err.code, response_body=str(err.message))
            # A server's reply often quotes the address it refused: masked, as this text is logged.
            raise MailError(
                f"the SMTP server refused the message: {err.code} {mask_text(err.message)}", code=err.code
            ) from err
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
            note(error=f"{type(err).__name__}: {err}")
            raise MailError(f"could not send mail through {s.host}:{s.port}: {mask_text(str(err))}") from err
        refused = "".join(f"\nrefused {to}: {code} {text}" for to, (code, text) in errors.items())
        note(status=250, response_body=reply + refused)
        # Not the subject: a plugin's may name the person it is about.
        log.info("mail sent to %d recipient(s)", len(message["To"].split(",")))
