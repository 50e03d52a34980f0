"""Request bodies and query strings of the auth, users and API-key endpoints."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr

from core.auth.passwords import MAX_PASSWORD_LENGTH

# A built-in role or one of [auth.roles]: checked against the app's roles (422 for an unknown one).
Role = Annotated[str, Field(min_length=1, max_length=20)]
Email = Field(default=None, max_length=255, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
Password = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class TokenRequest(_Body):
    username: str = Field(min_length=1, max_length=150)
    password: SecretStr = Password


class RefreshRequest(_Body):
    refresh_token: SecretStr = Field(min_length=1, max_length=256)


class LogoutRequest(_Body):
    # End every session of the user, not only this one.
    everywhere: bool = False


class PasswordChange(_Body):
    current_password: SecretStr = Password
    new_password: SecretStr = Password


class SignupRequest(_Body):
    username: str = Field(min_length=1, max_length=150)
    password: SecretStr = Password
    full_name: str | None = Field(default=None, max_length=255)
    email: str | None = Email


class UserCreate(_Body):
    username: str = Field(min_length=1, max_length=150)
    password: SecretStr = Password
    role: Role
    full_name: str | None = Field(default=None, max_length=255)
    email: str | None = Email
    # An admin chose this password, so by default its owner must replace it at first login.
    must_change_password: bool = True


class UserUpdate(_Body):
    role: Role | None = None
    full_name: str | None = Field(default=None, max_length=255)
    email: str | None = Email
    active: bool | None = None
    # A password reset; the user must change it at next login unless must_change_password is false.
    password: SecretStr | None = Field(default=None, min_length=1, max_length=MAX_PASSWORD_LENGTH)
    must_change_password: bool | None = None
    # Lift a lockout now.
    unlock: bool = False


class UserQuery(_Body):
    role: Role | None = None
    status: Literal["active", "pending", "rejected", "inactive"] | None = None
    active: bool | None = None
    search: str | None = Field(default=None, min_length=1, max_length=100)
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=64)


class ApproveRequest(_Body):
    role: Role | None = None


class KeyCreate(_Body):
    name: str = Field(min_length=1, max_length=150)
    scopes: list[str] = Field(min_length=1, max_length=50)
    expires_at: AwareDatetime | None = None
    # Bind the key to one adapter: it then stands for that platform (webhooks:<platform>).
    platform: str | None = Field(default=None, max_length=64)


class KeyQuery(_Body):
    include_revoked: bool = False
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=64)


class KeyRotate(_Body):
    # How long the old key keeps working, so devices can be switched over (0: it stops now).
    grace_seconds: int = Field(default=0, ge=0, le=30 * 24 * 3600)


class RoleDefinition(_Body):
    """A role defined at run time: the permissions it is made of (``GET /api/roles`` lists them)."""

    permissions: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(max_length=200)
    description: str = Field(default="", max_length=500)
