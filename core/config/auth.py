"""``[auth]`` settings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class RoleSettings(BaseModel):
    """``[auth.roles.<name>]``: a role made of permissions (``core.auth.roles``; checked once plugins are loaded)."""

    model_config = ConfigDict(extra="forbid")

    permissions: list[str]
    description: str = ""


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
    # Self-signup creates a pending user (this role) that an admin approves or rejects.
    allow_signup: bool = False
    signup_role: Literal["viewer", "operator"] = "viewer"
    password_min_length: int = Field(default=10, ge=8, le=128)
    # scrypt cost (N; r=8, p=1): 2**15 takes 32 MiB. Raising it re-hashes each password at
    # its next successful login.
    password_scrypt_n: int = Field(default=2**15, ge=2**14, le=2**20)
    # How many password hashes may run at once in one process (each holds N × 1 KiB of memory).
    password_hash_concurrency: int = Field(default=2, ge=1)
    lockout_attempts: int = Field(default=5, ge=1)
    lockout_seconds: int = Field(default=900, ge=1)
    login_rate_per_minute: int = Field(default=20, ge=1)
    api_rate_per_minute: int = Field(default=600, ge=1)
    # API-key usage (count, last use) is added up in memory and written this often.
    key_usage_flush_interval: float = Field(default=10.0, gt=0)
    # Roles besides (or redefining) the built-in viewer and operator: [auth.roles.<name>].
    roles: dict[str, RoleSettings] = Field(default_factory=dict)

    @field_validator("password_scrypt_n")
    @classmethod
    def _power_of_two(cls, n: int) -> int:
        if n & (n - 1):
            raise ValueError("must be a power of two (16384, 32768, 65536, …)")
        return n
