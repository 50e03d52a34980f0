"""``[plugins.webform]``: the organisations whose sites embed forms, codes, tokens and uploads."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
EMAIL = re.compile(r"^[^@\s<>,;:\"]+@[^@\s<>,;:\"]+\.[^@\s<>,;:\"]+$")
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
DEFAULT_TYPES = (
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "text/plain",
    "audio/mpeg",
    "audio/ogg",
    "video/mp4",
)


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Organisation(_Table):
    """One organisation: its display name, the sites (origins) that embed its forms, who hears of each."""

    name: str = Field(min_length=1, max_length=200)
    origins: list[str] = Field(default_factory=list, max_length=50)
    notify: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        out = []
        for origin in origins:
            origin = origin.rstrip("/")
            if not ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], no path)")
            out.append(origin.lower())
        return out

    @field_validator("notify")
    @classmethod
    def _addresses(cls, notify: list[str]) -> list[str]:
        for address in notify:
            if not EMAIL.match(address):
                raise ValueError(f"{address!r} is not an e-mail address")
        return notify


class CFCBESettings(_Table):
    """``[plugins.webform.cfcbe]``: CFCBE's old URLs for web forms and their login, for clients that only change the base URL (docs/webform.md)."""

    enabled: bool = False
    prefix: str = "/api"

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, prefix: str) -> str:
        if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", prefix):
            raise ValueError(f"prefix {prefix!r}: a path such as /api (no trailing slash)")
        return prefix


class WebformSettings(_Table):
    """The whole ``[plugins.webform]`` table."""

    organisations: dict[str, Organisation] = Field(default_factory=dict)
    code_ttl: int = Field(default=600, ge=60, le=3600)  # seconds a code is valid
    max_attempts: int = Field(default=5, ge=1, le=20)  # wrong codes before the code is locked
    max_sends: int = Field(default=3, ge=1, le=20)  # codes sent to one e-mail per send_window
    send_window: int = Field(default=600, ge=60)
    ip_requests: int = Field(default=20, ge=1)  # auth requests per client address per ip_window
    ip_window: int = Field(default=600, ge=1)
    token_ttl: int = Field(default=1800, ge=60, le=86400)  # seconds a form token is valid
    max_attachments: int = Field(default=5, ge=0, le=20)
    max_attachment_bytes: int = Field(default=512 * 1024, ge=1)
    attachment_types: list[str] = Field(default_factory=lambda: list(DEFAULT_TYPES))
    code_subject: str = Field(default="Your verification code", min_length=1, max_length=200)
    cfcbe: CFCBESettings = Field(default_factory=CFCBESettings)

    @field_validator("organisations")
    @classmethod
    def _slugs(cls, organisations: dict[str, Organisation]) -> dict[str, Organisation]:
        for slug in organisations:
            if not SLUG.match(slug):
                raise ValueError(f"{slug!r} is not an organisation slug (lower case letters, digits, - and _)")
        return organisations
