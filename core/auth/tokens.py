"""Access tokens: JWTs (joserfc, the JOSE library of the authlib project)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OctKey, RSAKey

from core.config.auth import AuthSettings
from core.errors import ConfigError

if TYPE_CHECKING:
    from core.gateway import Gateway

log = logging.getLogger("switchboard.auth")


class InvalidToken(Exception):
    """Any reason a token is not accepted. Never shown to the caller in detail."""


def _load_or_create_secret(data_dir: str) -> str:
    path = Path(data_dir) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    log.warning(
        "no [auth] secret_key configured: generated one in %s (set SWITCHBOARD_AUTH__SECRET_KEY in production)", path
    )
    return key


class TokenSigner:
    def __init__(self, settings: AuthSettings, data_dir: str) -> None:
        self.settings = settings
        self.algorithm = settings.algorithm
        self.data_dir = data_dir
        self._sign_key: Any = None
        self._verify_key: Any = None
        if self.algorithm != "HS256":
            self._load_keys()  # a bad key file is a configuration error: report it at start-up

    def _load_keys(self) -> None:
        """Keys are loaded on first use: a command that never signs creates no secret file."""
        settings, data_dir = self.settings, self.data_dir
        if self.algorithm == "HS256":
            secret = settings.secret_key or _load_or_create_secret(data_dir)
            self._sign_key = OctKey.import_key(secret)
            self._verify_key = self._sign_key
        else:
            if not settings.private_key_file or not settings.public_key_file:
                raise ConfigError(f"[auth] algorithm {self.algorithm} needs private_key_file and public_key_file")
            kind = RSAKey if self.algorithm == "RS256" else ECKey
            try:
                self._sign_key = kind.import_key(Path(settings.private_key_file).read_bytes())
                self._verify_key = kind.import_key(Path(settings.public_key_file).read_bytes())
            except (OSError, ValueError, JoseError) as err:
                raise ConfigError(f"[auth] cannot read the {self.algorithm} key files: {err}") from err
            self._check_pair()

    def derive_key(self, purpose: str) -> bytes:
        """A key for ``purpose`` derived from ``[auth] secret_key`` (HMAC-SHA256), never the secret itself."""
        secret = self.settings.secret_key or _load_or_create_secret(self.data_dir)
        return hmac.new(secret.encode(), b"switchboard-derived-key\x00" + purpose.encode(), hashlib.sha256).digest()

    def _check_pair(self) -> None:
        """Sign and verify a probe: a wrong curve or a mismatched pair is found at start-up, not at login."""
        try:
            probe = jwt.encode({"alg": self.algorithm}, {"probe": True}, self._sign_key)
            jwt.decode(probe, self._verify_key, algorithms=[self.algorithm])
        except (JoseError, ValueError, TypeError) as err:
            raise ConfigError(
                f"[auth] the {self.algorithm} key files do not make a usable pair "
                f"(ES256 needs a P-256 key; the public key must be the private key's): {err}"
            ) from err

    def issue(
        self, subject: str, role: str, *, now: datetime | None = None, **claims: Any
    ) -> tuple[str, dict[str, Any]]:
        if self._sign_key is None:
            self._load_keys()
        issued = int((now or datetime.now(UTC)).timestamp())
        payload = {
            "sub": subject,
            "role": role,
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
            "iat": issued,
            "nbf": issued,
            "exp": issued + self.settings.access_token_ttl,
            "jti": uuid.uuid4().hex,
            **claims,
        }
        return jwt.encode({"alg": self.algorithm, "typ": "JWT"}, payload, self._sign_key), payload

    def issue_scoped(
        self, subject: str, *, audience: str, ttl: int, now: datetime | None = None, **claims: Any
    ) -> tuple[str, dict[str, Any]]:
        """A token for another audience than the core's (a plugin's own short-lived token).

        The core's bearer authentication checks its own audience, so such a token opens
        nothing but what verifies it with ``verify(token, audience=...)``.
        """
        if audience == self.settings.audience:
            raise ValueError("a scoped token may not use the core's own audience")
        if ttl < 1:
            raise ValueError("ttl must be positive")
        if self._sign_key is None:
            self._load_keys()
        issued = int((now or datetime.now(UTC)).timestamp())
        payload = {
            **claims,
            "sub": subject,
            "iss": self.settings.issuer,
            "aud": audience,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode({"alg": self.algorithm, "typ": "JWT"}, payload, self._sign_key), payload

    def verify(self, token: str, *, now: datetime | None = None, audience: str | None = None) -> dict[str, Any]:
        """The claims of a valid token; raises ``InvalidToken`` otherwise.

        ``audience``: the audience the token must carry (default: the core's own; the admin UI's
        cookie and plugins' scoped tokens carry their own).
        """
        if self._verify_key is None:
            self._load_keys()
        try:
            # algorithms= pins the one algorithm we sign with: "none" and HS/RS confusion fail here.
            decoded = jwt.decode(token, self._verify_key, algorithms=[self.algorithm])
        except (JoseError, ValueError, TypeError) as err:
            raise InvalidToken(type(err).__name__) from err
        claims = dict(decoded.claims)
        registry = jwt.JWTClaimsRegistry(
            now=int((now or datetime.now(UTC)).timestamp()),
            leeway=5,
            iss={"essential": True, "value": self.settings.issuer},
            aud={"essential": True, "value": audience or self.settings.audience},
            sub={"essential": True},
            iat={"essential": True},
            exp={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except (JoseError, ValueError, TypeError) as err:
            raise InvalidToken(type(err).__name__) from err
        return claims


def derive_key(gateway: Gateway, purpose: str) -> bytes:
    """A secret key for one purpose (signing download links, say), derived from ``[auth] secret_key``.

    Different purposes get unrelated keys; the same purpose gets the same key in every process
    that shares the secret. Use it with ``hmac.new(key, data, hashlib.sha256)``.
    """
    return gateway.auth.signer.derive_key(purpose)
