"""The adapter ``email`` (``/webhooks/email``): inbound e-mail from a provider's inbound-parse webhook.

The post is multipart: ``from``, ``to``, ``subject``, ``text``, ``html``, ``headers`` (the
message's raw header block), files, and the signature fields ``timestamp``, ``token`` and
``signature`` (see ``signature.py``). Each post becomes one message of kind ``email``, threaded
by ``In-Reply-To``/``References`` into the conversation of a Message-ID we know, else into the
sender's. Attachments ride inline, base64, in ``extra["attachments"]`` (as on the web form).
"""

from __future__ import annotations

import base64
import hashlib
from email.parser import HeaderParser
from email.policy import default as default_policy
from email.utils import getaddresses, parseaddr
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from core import Adapter, BadRequest, Gateway, HTTPError, StandardMessage
from plugins.email import signature, threads
from plugins.email.settings import EmailSettings

NAME = "email"


def settings_of(gateway: Gateway) -> EmailSettings:
    config: EmailSettings = gateway.plugin_config(NAME)
    return config


class EmailAdapter(Adapter):
    """E-mail received by the provider for the gateway's addresses."""

    name = NAME
    redact_keys = ("from", "to", "subject", "text", "html", "headers", "sender")

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def _form(self, request: Request) -> Any:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("multipart/form-data", "application/x-www-form-urlencoded"):
            raise HTTPError("expected a form post (multipart/form-data)", status_code=415)
        settings = settings_of(self.gateway)
        form = getattr(request.state, "form", None)
        if form is not None:
            return form
        try:
            request.state.form = await request.form(max_files=settings.max_attachments, max_fields=100)
            return request.state.form
        except HTTPError:
            raise
        except Exception as err:  # starlette's MultiPartException / HTTPException for a broken form
            raise BadRequest(f"malformed form body: {getattr(err, 'detail', err)}") from err

    async def authenticate(self, request: Request, body: bytes) -> None:
        try:
            await self._authenticate(request, body)
        except BaseException:
            await close_form(request)
            raise

    async def _authenticate(self, request: Request, body: bytes) -> None:
        form = await self._form(request)
        fields = {k: form.get(k) if isinstance(form.get(k), str) else None for k in ("timestamp", "token", "signature")}
        settings = settings_of(self.gateway)
        await signature.check(self.gateway, settings.signing_key, settings.max_age, fields)

    async def parse(self, request: Request, body: bytes) -> list[StandardMessage]:
        try:
            return await self._parse(request, body)
        finally:
            await close_form(request)

    async def _parse(self, request: Request, body: bytes) -> list[StandardMessage]:
        form = await self._form(request)
        field = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        sender_name, sender = parseaddr(field.get("from", ""))
        if not sender or "@" not in sender:
            raise BadRequest("the post has no sender address (from)", errors=[{"field": "from", "message": "required"}])
        sender = sender.lower()
        headers = HeaderParser(policy=default_policy).parsestr(field.get("headers", "") or "")
        found = threads.ids_in(str(headers.get("Message-ID", "")))
        message_id = found[0] if found else None
        if message_id is None:  # a Message-ID of our own, stable for this post
            digest = hashlib.sha256(f"{field.get('token', '')}{sender}".encode()).hexdigest()[:32]
            message_id = f"<{digest}@inbound.switchboard.invalid>"
        in_reply_to = threads.ids_in(str(headers.get("In-Reply-To", "")))
        references = threads.ids_in(str(headers.get("References", "")))
        async with self.gateway.db.transaction() as conn:
            key = await threads.key_of(conn, [*references, *in_reply_to])
        subject = field.get("subject") or str(headers.get("Subject", "") or "")
        attachments = await self._attachments(
            [v for _, v in form.multi_items() if isinstance(v, UploadFile) and v.filename]
        )
        external_id = message_id if len(message_id) <= 255 else "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
        return [
            StandardMessage(
                platform=NAME,
                external_id=external_id,
                kind="email",
                sender=sender,
                sender_name=sender_name or None,
                recipient=", ".join(a for _, a in getaddresses([field.get("to", "")]) if a) or None,
                text=field.get("text") or None,
                media=[
                    {"id": a["sha256"], "sha256": a["sha256"], "mime_type": a["mime_type"], "filename": a["filename"]}
                    for a in attachments
                ],
                conversation_key=key or sender,
                raw={k: v for k, v in field.items() if k not in ("signature", "token")},
                extra={
                    "subject": subject,
                    "to": field.get("to"),
                    "html": field.get("html") or None,
                    "message_id": message_id,
                    "in_reply_to": in_reply_to,
                    "references": references,
                    "attachments": attachments,
                },
            )
        ]

    async def _attachments(self, files: list[UploadFile]) -> list[dict[str, Any]]:
        limit = settings_of(self.gateway).max_attachment_bytes
        out = []
        for upload in files:
            content = await upload.read(limit + 1)
            if len(content) > limit:
                raise HTTPError(f"{upload.filename}: attachment larger than {limit} bytes", status_code=413)
            out.append(
                {
                    "filename": (upload.filename or "attachment")[-240:],
                    "mime_type": (upload.content_type or "application/octet-stream").split(";")[0].strip().lower(),
                    "size": len(content),
                    "sha256": hashlib.sha256(content).hexdigest(),
                    "content": base64.b64encode(content).decode("ascii"),
                }
            )
        return out


async def close_form(request: Request) -> None:
    """Close the spooled files of the request's form, if it was read."""
    form = getattr(request.state, "form", None)
    if form is not None:
        await form.close()
