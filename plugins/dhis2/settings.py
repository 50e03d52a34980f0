"""``[plugins.dhis2]``: DHIS2 instances, import parameters, mapping and template options."""

from __future__ import annotations

import re
from typing import Literal

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from core import KINDS

# DHIS2 identifier schemes: UID, CODE, NAME, or an attribute given by its uid.
_ID_SCHEME = re.compile(r"^(UID|CODE|NAME|ATTRIBUTE:[A-Za-z][A-Za-z0-9]{10})$")
ImportStrategy = Literal["CREATE_AND_UPDATE", "CREATE", "UPDATE", "DELETE"]
MappingScheme = Literal["code", "uid"]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrackerSettings(_Table):
    """How tracker payloads are imported (``/api/tracker``)."""

    # Asynchronous import: DHIS2 answers with a job, which the delivery polls until done.
    async_import: bool = False
    import_strategy: ImportStrategy = "CREATE_AND_UPDATE"
    atomic_mode: Literal["ALL", "OBJECT"] = "ALL"
    # Seconds between polls of an asynchronous job, and how long one attempt polls before
    # it hands the job over to the next attempt (which resumes polling, never resubmits).
    poll_interval: float = Field(default=1.0, gt=0)
    poll_timeout: float = Field(default=30.0, gt=0)


class InstanceSettings(_Table):
    """``[plugins.dhis2.instances.<name>]``: one DHIS2 server and how to talk to it."""

    base_url: HttpUrl
    # A personal access token (sent as "Authorization: ApiToken d2pat_…"), or basic auth.
    token: str | None = None
    username: str | None = None
    password: str | None = None
    # Pin the Web API version (/api/40/…); unset: the unversioned /api/….
    api_version: int | None = Field(default=None, ge=25, le=99)
    timeout: float = Field(default=60.0, gt=0)
    # Requests in flight to this instance at once, across every worker process.
    max_concurrent_requests: int = Field(default=4, ge=1)
    max_attempts: int | None = Field(default=None, ge=1)
    # dataValueSets import parameters (the DHIS2 defaults unless set).
    import_strategy: ImportStrategy = "CREATE_AND_UPDATE"
    dry_run: bool = False
    id_scheme: str | None = None
    data_element_id_scheme: str | None = None
    org_unit_id_scheme: str | None = None
    # What the keys of a dhis2gw body ({"dataValues": {key: value}}) are: source codes of the
    # data-value mappings, or data-element uids looked up by the mappings' data element
    # (dhis2gw's mapping_scheme: "UID").
    mapping_scheme: MappingScheme = "code"
    tracker: TrackerSettings = Field(default_factory=TrackerSettings)

    @field_validator("mapping_scheme", mode="before")
    @classmethod
    def _mapping_scheme(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("id_scheme", "data_element_id_scheme", "org_unit_id_scheme")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        upper = value.strip()
        upper = upper.upper() if not upper.upper().startswith("ATTRIBUTE:") else "ATTRIBUTE:" + upper[10:]
        if not _ID_SCHEME.match(upper):
            raise ValueError("expected UID, CODE, NAME or ATTRIBUTE:<attribute uid>")
        return upper

    @model_validator(mode="after")
    def _credentials(self) -> InstanceSettings:
        if self.token and (self.username or self.password):
            raise ValueError("give either token or username and password, not both")
        if not self.token and not (self.username and self.password):
            raise ValueError("credentials are missing: set token, or username and password")
        return self

    def scheme_for(self, what: Literal["dataElement", "orgUnit"]) -> str:
        """The effective identifier scheme of data elements or org units in submitted data."""
        specific = self.data_element_id_scheme if what == "dataElement" else self.org_unit_id_scheme
        return specific or self.id_scheme or "UID"


class TemplateSettings(_Table):
    """``[plugins.dhis2.templates.<name>]``: turn routed messages of one platform into DHIS2 data."""

    source: str
    kinds: list[str] | None = None
    instance: str | None = None
    type: Literal["aggregate", "tracker"]
    # A sandboxed Jinja template rendering JSON: a dataValueSet (native or the dhis2gw
    # shape with codes) for "aggregate", a tracker import payload for "tracker".
    body: str

    @field_validator("body")
    @classmethod
    def _compiles(cls, body: str) -> str:
        try:
            SandboxedEnvironment().parse(body)
        except TemplateSyntaxError as err:
            raise ValueError(f"template line {err.lineno}: {err.message}") from err
        return body

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str] | None) -> list[str] | None:
        unknown = sorted(set(kinds or ()) - KINDS)
        if unknown:
            raise ValueError(f"unknown message kind {unknown[0]!r}")
        return kinds


class CompatSettings(_Table):
    """``[plugins.dhis2.compat]``: dhis2gw's API at ``prefix`` (off by default). See docs/dhis2.md."""

    enabled: bool = False
    prefix: str = "/api/v2"
    # dhis2gw's api.mapping_scheme for POST /aggregate: "code" or "uid" (unset: the instance's).
    mapping_scheme: MappingScheme | None = None

    @field_validator("mapping_scheme", mode="before")
    @classmethod
    def _mapping_scheme(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    # Browser pages of these origins may call the API ("*": any, as dhis2gw; []: no CORS at all).
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    # Days a getToken/refreshToken token lives (dhis2gw: 365), capped by the caller's own key.
    token_ttl_days: int = Field(default=365, ge=1, le=3650)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, prefix: str) -> str:
        if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", prefix):
            raise ValueError(f"prefix {prefix!r}: a path such as /api/v2 (no trailing slash)")
        return prefix

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        out = []
        for origin in origins:
            origin = origin.rstrip("/")
            if origin != "*" and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?", origin):
                raise ValueError(f"cors_origins: {origin!r} is not an origin (scheme://host[:port], or *)")
            out.append(origin.lower())
        return out


class DHIS2Settings(_Table):
    """The whole ``[plugins.dhis2]`` table."""

    instances: dict[str, InstanceSettings] = Field(default_factory=dict)
    default_instance: str | None = None
    # Codes without a mapping: refuse the submission, or leave them out and say so.
    unmapped: Literal["reject", "skip"] = "reject"
    # Data values per POST to /api/dataValueSets; larger sets are sent in several requests.
    chunk_size: int = Field(default=1000, ge=1, le=100_000)
    # Mapping files: the largest upload and the most rows accepted.
    max_upload_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    max_import_rows: int = Field(default=200_000, ge=1)
    # How long uids found on an instance by the metadata check are remembered (seconds).
    metadata_cache_ttl: float = Field(default=3600.0, ge=0)
    templates: dict[str, TemplateSettings] = Field(default_factory=dict)
    compat: CompatSettings = Field(default_factory=CompatSettings)

    @field_validator("instances")
    @classmethod
    def _names(cls, instances: dict[str, InstanceSettings]) -> dict[str, InstanceSettings]:
        for name in instances:
            if not re.match(r"^[A-Za-z0-9_.-]{1,50}$", name):
                raise ValueError(f"instance name {name!r}: use letters, digits, '_', '.', '-' (at most 50)")
        return instances

    @model_validator(mode="after")
    def _references(self) -> DHIS2Settings:
        if self.default_instance is not None and self.default_instance not in self.instances:
            raise ValueError(f"default_instance {self.default_instance!r} is not one of [plugins.dhis2.instances]")
        placed: list[tuple[str, str, TemplateSettings]] = []
        for name, template in self.templates.items():
            instance = template.instance or self.default_instance_name
            if instance is None or instance not in self.instances:
                raise ValueError(f"templates.{name}: instance {template.instance!r} is not configured")
            for other_name, other_instance, other in placed:
                # One message must match at most one template of an instance.
                overlap = template.kinds is None or other.kinds is None or bool(set(template.kinds) & set(other.kinds))
                if other_instance == instance and other.source == template.source and overlap:
                    raise ValueError(
                        f"templates.{name}: templates {other_name!r} and {name!r} both match "
                        f"{template.source!r} messages for instance {instance!r}"
                    )
            placed.append((name, instance, template))
        return self

    def template_instance(self, template: TemplateSettings) -> str:
        """The instance a template sends to (validated to exist)."""
        name = template.instance or self.default_instance_name
        assert name is not None
        return name

    @property
    def default_instance_name(self) -> str | None:
        """``default_instance``, or the only instance when exactly one is configured."""
        if self.default_instance is not None:
            return self.default_instance
        if len(self.instances) == 1:
            return next(iter(self.instances))
        return None


def destination_name(instance: str) -> str:
    """The delivery destination of one instance: ``dhis2:<instance>`` (what ``[[routes]]`` names)."""
    return f"dhis2:{instance}"
