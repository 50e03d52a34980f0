"""E-mail to an organisation's ``notify`` addresses about each new submission.

Sent after the submission is committed; a mail failure is logged and changes nothing (the
submission is stored and routed whatever the mail server does).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from typing import Any

from core import Gateway, MailError, StandardMessage, Stored
from plugins.webform import organisations
from plugins.webform.adapter import NAME
from plugins.webform.otp import mask_email

log = logging.getLogger("switchboard.webform")


def _summary(message: StandardMessage, org_name: str) -> str:
    lines = [f"A new form submission for {org_name}.", "", f"From: {message.sender}", ""]
    fields: dict[str, Any] = message.extra.get("fields", {})
    lines += [f"{key}: {value}" for key, value in fields.items()]
    if message.media:
        lines += ["", "Attachments: " + ", ".join(str(m.get("filename")) for m in message.media)]
    lines += ["", f"Message id: {message.id}"]
    return "\n".join(lines) + "\n"


async def after_stored(gateway: Gateway, stored: Sequence[tuple[StandardMessage, Stored]]) -> None:
    """Tell each submission's organisation, when it has ``notify`` addresses and mail is set up."""
    if not gateway.mail.configured:
        return
    for message, _ in stored:
        if message.platform != NAME or message.direction != "in":
            continue
        org = await organisations.find(gateway, str(message.extra.get("organisation")))
        if org is None or not org.notify:
            continue
        attachments = [
            (a["filename"], base64.b64decode(a["content"]), a["mime_type"]) for a in message.extra.get("attachments", [])
        ]
        try:
            await gateway.mail.send(
                list(org.notify),
                f"New form submission for {org.name}",
                _summary(message, org.name),
                attachments=attachments,
                headers={"Reply-To": str(message.sender)},
            )
        except MailError as err:
            log.warning("webform: could not notify %s of a submission by %s: %s", org.slug, mask_email(str(message.sender)), err)
