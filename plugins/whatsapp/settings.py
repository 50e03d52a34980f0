"""``[plugins.whatsapp]``: the business number, its secrets, and what the plugin does on its own.

Secrets are written as ``${ENV_VAR}`` in ``config.toml``; the core resolves them before this
model sees them, so it only checks their shape. Every key is optional so that an installed,
unconfigured plugin does not stop start-up: until ``app_secret`` is set every webhook POST is
refused, and until ``access_token`` and ``phone_number_id`` are set every send fails visibly.
"""

from __future__ import annotations

import re
import string
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v24.0"
# What an acknowledgement text or template parameter may refer to (see docs/whatsapp.md).
ACK_PLACEHOLDERS = frozenset({"name", "wa_id", "reference", "conversation_id"})
# The media types WhatsApp accepts (Cloud API "supported media types"), as patterns.
DEFAULT_MEDIA_TYPES = [
    "image/jpeg",
    "image/png",
    "image/webp",
    "audio/aac",
    "audio/amr",
    "audio/mpeg",
    "audio/mp4",
    "audio/ogg",
    "video/mp4",
    "video/3gpp",
    "text/plain",
    "application/pdf",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.*",
]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _placeholders(text: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as err:  # an unbalanced brace
        raise ValueError(f"{text!r}: {err}") from err


def _check_placeholders(text: str) -> str:
    unknown = _placeholders(text) - ACK_PLACEHOLDERS
    if unknown:
        raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}} (known: {', '.join(sorted(ACK_PLACEHOLDERS))})")
    return text


class TemplateSettings(_Table):
    """An approved message template: its name, language code and body parameters."""

    name: str = Field(min_length=1, max_length=512)
    language: str = Field(default="en", min_length=2, max_length=16)
    # Body {{1}}, {{2}}, … in order; each may use the acknowledgement placeholders.
    parameters: list[str] = Field(default_factory=list)

    @field_validator("parameters")
    @classmethod
    def _known_placeholders(cls, parameters: list[str]) -> list[str]:
        return [_check_placeholders(p) for p in parameters]


class AcknowledgementSettings(_Table):
    """The automatic answer to the first message of a new conversation."""

    enabled: bool = False
    # Plain text (inside the 24-hour window a first message opens) or an approved template.
    text: str | None = Field(default=None, min_length=1, max_length=4096)
    template: TemplateSettings | None = None

    @field_validator("text")
    @classmethod
    def _known_placeholders(cls, text: str | None) -> str | None:
        return _check_placeholders(text) if text is not None else None

    @model_validator(mode="after")
    def _one_body(self) -> AcknowledgementSettings:
        if self.text is not None and self.template is not None:
            raise ValueError("set either text or template, not both")
        if self.enabled and self.text is None and self.template is None:
            raise ValueError("enabled = true needs text or template")
        return self


class OptOutSettings(_Table):
    """Keywords a contact sends to stop (and restart) messages, and the confirmations."""

    enabled: bool = True
    keywords: list[str] = Field(default_factory=lambda: ["STOP", "UNSUBSCRIBE"])
    opt_in_keywords: list[str] = Field(default_factory=lambda: ["START"])
    # Sent once when a contact opts out or back in; empty: send nothing.
    confirmation: str = "You will no longer receive messages from us. Reply START to receive them again."
    opt_in_confirmation: str = "Welcome back: you will receive our messages again. Reply STOP to stop them."

    @model_validator(mode="after")
    def _disjoint(self) -> OptOutSettings:
        both = {k.casefold() for k in self.keywords} & {k.casefold() for k in self.opt_in_keywords}
        if both:
            raise ValueError(f"keyword {sorted(both)[0]!r} is both an opt-out and an opt-in keyword")
        return self


class MediaSettings(_Table):
    """Downloading inbound media (images, voice notes, documents) into local storage."""

    download: bool = False
    # Default: "<[server] data_dir>/whatsapp-media".
    directory: str | None = None
    # WhatsApp itself allows up to 100 MB (documents); most helplines want far less.
    max_bytes: int = Field(default=16 * 1024 * 1024, ge=1)
    # Accepted Content-Types; a trailing "*" matches any suffix ("image/*").
    allowed_types: list[str] = Field(default_factory=lambda: list(DEFAULT_MEDIA_TYPES), min_length=1)
    # Attempts before a download is given up (retries back off: 30 s, 2 min, 8 min, …).
    max_attempts: int = Field(default=5, ge=1, le=20)


class CFCBESettings(_Table):
    """``[plugins.whatsapp.cfcbe]``: CFCBE's old URLs for the WhatsApp webhook, for clients that only change the base URL (docs/whatsapp.md)."""

    enabled: bool = False
    prefix: str = "/api"

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, prefix: str) -> str:
        if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", prefix):
            raise ValueError(f"prefix {prefix!r}: a path such as /api (no trailing slash)")
        return prefix


class WhatsAppSettings(_Table):
    # The token Meta echoes in the GET verification handshake (App Dashboard → Webhooks).
    verify_token: str | None = Field(default=None, min_length=1)
    # The app secret(s) that sign every POST (X-Hub-Signature-256); a list during rotation.
    app_secret: list[str] = Field(default_factory=list)
    # A system-user access token with whatsapp_business_messaging permission.
    access_token: str | None = Field(default=None, min_length=1)
    # The business number replies are sent from (unless a message names another).
    phone_number_id: str | None = Field(default=None, pattern=r"^[0-9]{1,32}$")
    api_version: str = Field(default=DEFAULT_API_VERSION, pattern=r"^v[0-9]+\.[0-9]+$")
    graph_base_url: str = DEFAULT_GRAPH_URL
    # Seconds a Graph request may take; default: [delivery] timeout.
    timeout: float | None = Field(default=None, gt=0)
    # Override [delivery] max_attempts / concurrency for sends.
    max_attempts: int | None = Field(default=None, ge=1)
    concurrency: int | None = Field(default=None, ge=1)
    # Mark every inbound message as read (blue ticks) as soon as it is stored.
    mark_read: bool = False
    acknowledgement: AcknowledgementSettings = Field(default_factory=AcknowledgementSettings)
    opt_out: OptOutSettings = Field(default_factory=OptOutSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    cfcbe: CFCBESettings = Field(default_factory=CFCBESettings)

    @field_validator("app_secret", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [value]
        return value

    @field_validator("app_secret")
    @classmethod
    def _no_empty_secret(cls, secrets: list[str]) -> list[str]:
        if any(not s for s in secrets):
            raise ValueError("an app secret may not be empty")
        return secrets

    @field_validator("graph_base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("https://", "http://")) or "?" in url or "#" in url:
            raise ValueError("expected an http(s) URL without query or fragment")
        return url.rstrip("/")

    def messages_url(self, phone_number_id: str) -> str:
        return f"{self.graph_base_url}/{self.api_version}/{phone_number_id}/messages"

    def node_url(self, node_id: str) -> str:
        return f"{self.graph_base_url}/{self.api_version}/{node_id}"
