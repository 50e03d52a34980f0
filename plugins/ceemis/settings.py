"""``[plugins.ceemis]``: where CEEMIS is, how to authenticate, how helpline fields map onto its form."""

from __future__ import annotations

import math
import re

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from core import KINDS

# helpline field (a dotted path; a list stands for its first item) → CEEMIS form field(s)
DEFAULT_FIELDS: dict[str, str | list[str]] = {
    "clients_case.fname": "mw_name",
    "clients_case.phone": "mw_phone",
    "clients_case.email": "mw_email",
    "clients_case.passport": "mw_passport",
    "clients_case.national_id": "mw_sys_id",
    "clients_case.country": "mw_country",
    "clients_case.city": ["mw_city", "mw_loca"],
    "perpetrators_case.sector": "emp_sector",
    "perpetrators_case.employer": "emp_name",
    "perpetrators_case.employer_number": "emp_number",
    "perpetrators_case.location": "location",
    "case_category": "comp_category",
    "narrative": "mw_narative",
}
_FORM_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookSettings(_Table):
    """``[plugins.ceemis.webhooks.<helpline|ceemis|eemis>]``: how one sender authenticates.

    Without ``secret`` the sender uses an API key bound to its platform (or with the scope
    ``webhooks:<platform>``); with it, every request must carry the HMAC-SHA256 of its body.
    """

    secret: str | None = Field(default=None, min_length=16)
    signature_header: str = "X-Signature"


class ConversationSettings(_Table):
    """``[plugins.ceemis.conversations.<platform>]``: conversations on ``<platform>`` become CEEMIS cases.

    The first message of a conversation routed to ``ceemis`` creates a case (the sender as the
    client, the text as the narrative, this ``case_category``); each later one updates it.
    """

    case_category: str = Field(min_length=1, max_length=255)
    # The kinds of message that become a case or an update (None: every kind).
    kinds: list[str] | None = None
    # The status a later message updates the case with (None: [plugins.ceemis.defaults] status).
    status: str | None = Field(default=None, min_length=1, max_length=64)

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str] | None) -> list[str] | None:
        unknown = sorted(set(kinds or ()) - KINDS)
        if unknown:
            raise ValueError(f"unknown message kind {unknown[0]!r}")
        return kinds


class CFCBESettings(_Table):
    """``[plugins.ceemis.cfcbe]``: CFCBE's old URLs for cases and their status, for clients that only change the base URL (docs/ceemis.md)."""

    enabled: bool = False
    prefix: str = "/api"

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, prefix: str) -> str:
        if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", prefix):
            raise ValueError(f"prefix {prefix!r}: a path such as /api (no trailing slash)")
        return prefix


class CEEMISSettings(_Table):
    """The whole ``[plugins.ceemis]`` table."""

    create_url: HttpUrl | None = None
    update_url: HttpUrl | None = None
    token: str | None = None
    # None: "Authorization: Bearer <token>"; a header name: the token as that header's value.
    token_header: str | None = None
    case_id_pattern: str = r"MGLSD\d+"
    timeout: float = Field(default=30.0, gt=0)
    # Real sends to CEEMIS before a delivery is dead (None: [delivery] max_attempts).
    max_attempts: int | None = Field(default=None, ge=1)
    # An update waiting for its case's create (or an earlier update) is looked at again after
    # wait_min seconds, doubling up to wait_max, for at most wait_timeout seconds.
    wait_min: float = Field(default=2.0, gt=0)
    wait_max: float = Field(default=300.0, gt=0)
    wait_timeout: float = Field(default=2 * 86400.0, gt=0)
    concurrency: int | None = Field(default=None, ge=1)
    defaults: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, str | list[str]] = Field(default_factory=dict)
    # CEEMIS form fields an update must carry (CEEMIS refuses an update without them): an update
    # that does not set one sends the case's own value (from its create and earlier updates).
    update_from_case: list[str] = Field(default_factory=lambda: ["comp_category"])
    webhooks: dict[str, WebhookSettings] = Field(default_factory=dict)
    conversations: dict[str, ConversationSettings] = Field(default_factory=dict)
    cfcbe: CFCBESettings = Field(default_factory=CFCBESettings)

    @field_validator("case_id_pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ValueError(f"not a regular expression: {err}") from err
        return pattern

    @field_validator("defaults")
    @classmethod
    def _default_names(cls, defaults: dict[str, str]) -> dict[str, str]:
        for name in defaults:
            if not _FORM_FIELD.match(name):
                raise ValueError(f"{name!r} is not a CEEMIS form field name")
        return defaults

    @field_validator("update_from_case")
    @classmethod
    def _update_field_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not _FORM_FIELD.match(name):
                raise ValueError(f"{name!r} is not a CEEMIS form field name")
        return names

    @field_validator("fields")
    @classmethod
    def _field_names(cls, fields: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        for source, targets in fields.items():
            if not source or any(not part for part in source.split(".")):
                raise ValueError(f"{source!r} is not a helpline field path")
            for target in [targets] if isinstance(targets, str) else targets:
                if target and not _FORM_FIELD.match(target):
                    raise ValueError(f"{source}: {target!r} is not a CEEMIS form field name")
        return fields

    @field_validator("webhooks")
    @classmethod
    def _platforms(cls, webhooks: dict[str, WebhookSettings]) -> dict[str, WebhookSettings]:
        unknown = sorted(set(webhooks) - {"helpline", "ceemis", "eemis"})
        if unknown:
            raise ValueError(f"unknown webhook {unknown[0]!r}: expected helpline, ceemis or eemis")
        return webhooks

    @field_validator("conversations")
    @classmethod
    def _conversation_platforms(cls, conversations: dict[str, ConversationSettings]) -> dict[str, ConversationSettings]:
        for platform in conversations:
            if platform in ("helpline", "ceemis", "eemis"):
                raise ValueError(f"conversations.{platform}: {platform!r} messages are cases already")
        return conversations

    @property
    def case_id(self) -> re.Pattern[str]:
        """The compiled ``case_id_pattern``."""
        return re.compile(self.case_id_pattern)

    def field_map(self) -> dict[str, list[str]]:
        """The built-in field map with ``fields`` over it ("" or [] drops a built-in mapping)."""
        merged = {**DEFAULT_FIELDS, **self.fields}
        out: dict[str, list[str]] = {}
        for source, targets in merged.items():
            names = [t for t in ([targets] if isinstance(targets, str) else targets) if t]
            if names:
                out[source] = names
        return out

    def webhook(self, platform: str) -> WebhookSettings:
        """The authentication settings of one inbound platform (defaults: API keys)."""
        return self.webhooks.get(platform) or WebhookSettings()

    def wait_budget(self) -> int:
        """Attempts an update may spend waiting for its turn (each is one core attempt)."""
        doublings = max(0, math.ceil(math.log2(self.wait_max / self.wait_min))) if self.wait_max > self.wait_min else 0
        return doublings + math.ceil(self.wait_timeout / self.wait_max) + 1
