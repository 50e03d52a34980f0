"""``[plugins.http.destinations.<name>]`` tables."""

from __future__ import annotations

from typing import Literal

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["bearer", "basic", "header"]
    token: str | None = None
    username: str | None = None
    password: str | None = None
    header: str | None = None
    value: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> AuthSettings:
        needed = {"bearer": ("token",), "basic": ("username", "password"), "header": ("header", "value")}[self.type]
        missing = [k for k in needed if not getattr(self, k)]
        if missing:
            raise ValueError(f"auth type {self.type!r} needs {', '.join(missing)}")
        return self


class HTTPDestinationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    auth: AuthSettings | None = None
    # HMAC-SHA256 key: the body's signature goes in `signature_header` as "sha256=<hex>".
    secret: str | None = None
    signature_header: str = "X-Switchboard-Signature"
    # A Jinja template of the body (sandboxed); `message` is the standard message as a dict.
    template: str | None = None
    content_type: str = "application/json"
    timeout: float = Field(default=30.0, gt=0)
    max_attempts: int | None = Field(default=None, ge=1)
    concurrency: int | None = Field(default=None, ge=1)

    @field_validator("template")
    @classmethod
    def _compiles(cls, template: str | None) -> str | None:
        if template is not None:
            try:
                SandboxedEnvironment().parse(template)
            except TemplateSyntaxError as err:
                raise ValueError(f"template line {err.lineno}: {err.message}") from err
        return template


class HTTPPluginSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    destinations: dict[str, HTTPDestinationSettings] = Field(default_factory=dict)
