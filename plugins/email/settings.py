"""``[plugins.email]``: the inbound-parse webhook's signing key and limits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EmailSettings(BaseModel):
    """The whole ``[plugins.email]`` table."""

    model_config = ConfigDict(extra="forbid")

    # The provider's webhook signing key (Mailgun: "HTTP webhook signing key"). Unset: every
    # inbound post is refused.
    signing_key: str | None = Field(default=None, min_length=8)
    max_age: int = Field(default=300, ge=30, le=3600)  # seconds a signed timestamp stays valid
    max_attachments: int = Field(default=10, ge=0, le=50)
    max_attachment_bytes: int = Field(default=512 * 1024, ge=1)
    reply_prefix: str = "Re: "
