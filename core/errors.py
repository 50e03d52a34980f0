"""Error types.

Plugins raise these; the core decides what HTTP status or retry follows.
"""

from __future__ import annotations

from typing import Any


class SwitchboardError(Exception):
    """Base class of every error the gateway raises on purpose."""


class ConfigError(SwitchboardError):
    """The configuration is invalid. The message is one line an operator can act on."""


class PluginError(SwitchboardError):
    """An enabled plugin failed to load, register or validate its settings."""


class AuthenticationError(SwitchboardError):
    """A request's signature, token or credentials are missing or wrong.

    ``status_code`` is 401 (no or bad credentials) or 403 (credentials valid but not allowed).
    The message is safe to show to the caller; it must not reveal which part was wrong.
    """

    def __init__(self, message: str = "authentication failed", *, status_code: int = 401) -> None:
        super().__init__(message)
        self.status_code = status_code


class DeliveryError(SwitchboardError):
    """A destination could not deliver a message.

    ``retryable=True`` asks the core to try again later (with backoff, or after
    ``retry_after`` seconds when the far side said so); ``retryable=False`` makes the
    delivery dead at once. ``status_code`` and ``detail`` are recorded on the attempt.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
        status_code: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status_code = status_code
        self.detail = detail


class HTTPError(SwitchboardError):
    """An error with an HTTP status, rendered by the core as a JSON body.

    ``errors`` is an optional list of ``{"field"|"row"|"column": …, "message": …}`` items.
    """

    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        if status_code is not None:
            self.status_code = status_code
        self.errors = errors
        self.headers = headers


class BadRequest(HTTPError):
    status_code = 400


class NotFound(HTTPError):
    status_code = 404


class Conflict(HTTPError):
    status_code = 409


class Unprocessable(HTTPError):
    status_code = 422


class Forbidden(HTTPError):
    status_code = 403


class TooManyRequests(HTTPError):
    status_code = 429


class CheckFailed(SwitchboardError):
    """A plugin's outside dependency is not usable (``core.Check``); the message says what and what to do.

    It is shown by ``/readyz`` (to anyone) and ``switchboard config check``: no secret in it.
    """


class MailError(SwitchboardError):
    """An e-mail could not be sent: mail is not configured, or the SMTP server refused or failed.

    ``code`` is the SMTP reply code when the server gave one.
    """

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
