"""``[auth]`` settings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # HS256 signing key. Unset on the embedded default: one is generated into the data
    # directory on first run. Production sets it from the environment.
    secret_key: str | None = Field(default=None, min_length=32)
    algorithm: Literal["HS256", "RS256", "ES256"] = "HS256"
    private_key_file: str | None = None
    public_key_file: str | None = None
    issuer: str = "switchboard"
    audience: str = "switchboard"
    access_token_ttl: int = Field(default=900, gt=0)
    refresh_token_ttl: int = Field(default=30 * 24 * 3600, gt=0)
    allow_signup: bool = False
    password_min_length: int = Field(default=10, ge=8)
    lockout_attempts: int = Field(default=5, ge=1)
    lockout_seconds: int = Field(default=900, ge=1)
    login_rate_per_minute: int = Field(default=20, ge=1)
    api_rate_per_minute: int = Field(default=600, ge=1)
