"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the mail tests."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.serving import free_port


@dataclass
class Inbox:
    """What the server received: ``(envelope recipients, parsed message)`` pairs."""

    port: int
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse: str | None = None  # an SMTP reply to give instead of accepting ("550 no such user")
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class _Handler:
    def __init__(self, inbox: Inbox, loop: asyncio.AbstractEventLoop) -> None:
        self.inbox = inbox
        self.loop = loop

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        if self.inbox.refuse:
            return self.inbox.refuse
        content: Any = envelope.content
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        self.inbox.received.append((list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        self.loop.call_soon_threadsafe(self.inbox.arrived.set)
        return "250 OK"


@asynccontextmanager
async def smtp_server() -> AsyncIterator[Inbox]:
    """An SMTP server (no TLS, no auth) on a free loopback port until the block ends."""
    inbox = Inbox(port=free_port())
    controller = Controller(_Handler(inbox, asyncio.get_running_loop()), hostname="127.0.0.1", port=inbox.port)
    await asyncio.to_thread(controller.start)
    try:
        yield inbox
    finally:
        await asyncio.to_thread(controller.stop)
