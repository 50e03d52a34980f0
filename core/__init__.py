"""Switchboard: a plugin-based ASGI integration gateway.

This module is the public plugin API. Plugin packages import only these names (and, in
their tests, ``core.testing``); everything else in ``core`` is internal and may change.
The ``Gateway`` a hook receives is public too: ``settings``, ``plugin_config(name)``,
``db`` (``transaction()``: an SQLAlchemy Core connection), ``http``, ``submit(...)``,
``queue.enqueue_job(...)``, ``audit.record(...)``.
"""

from __future__ import annotations

from core.app import create_app
from core.cli_commands import Command
from core.contracts import Adapter, DeliveryInfo, DeliveryResult, Destination
from core.db import UTCDateTime
from core.errors import (
    AuthenticationError,
    BadRequest,
    ConfigError,
    Conflict,
    DeliveryError,
    Forbidden,
    HTTPError,
    NotFound,
    TooManyRequests,
    Unprocessable,
)
from core.gateway import Gateway
from core.hookspecs import hookimpl
from core.http import env_proxy
from core.ingest import Stored
from core.jobs import CronJob
from core.messages import KINDS, StandardMessage
from core.models import NAMING
from core.openapi import describe
from core.redaction import mask_phone
from core.retry import parse_retry_after, raise_for_response, raise_for_status
from core.security import Principal, max_body, requires
from core.settings import Settings, load_settings

__all__ = [
    "KINDS",
    "NAMING",
    "Adapter",
    "AuthenticationError",
    "BadRequest",
    "Command",
    "ConfigError",
    "Conflict",
    "CronJob",
    "DeliveryError",
    "DeliveryInfo",
    "DeliveryResult",
    "Destination",
    "Forbidden",
    "Gateway",
    "HTTPError",
    "NotFound",
    "Principal",
    "Settings",
    "StandardMessage",
    "Stored",
    "TooManyRequests",
    "UTCDateTime",
    "Unprocessable",
    "create_app",
    "describe",
    "hookimpl",
    "load_settings",
    "mask_phone",
    "max_body",
    "parse_retry_after",
    "raise_for_response",
    "raise_for_status",
    "env_proxy",
    "requires",
]
