"""Switchboard: a plugin-based ASGI integration gateway.

This module is the public plugin API. Plugin packages import only these names (and, in
their tests, ``core.testing``); everything else in ``core`` is internal and may change.
The ``Gateway`` a hook receives is public too: ``settings``, ``plugin_config(name)``,
``db`` (``transaction()``: an SQLAlchemy Core connection), ``http``, ``submit(...)``,
``queue.enqueue_job(...)``, ``audit.record(...)``.
"""

from __future__ import annotations

from core.auth.permissions import Principal, requires
from core.config.settings import Settings, load_settings
from core.contracts import Adapter, Command, CronJob, DeliveryInfo, DeliveryResult, Destination
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
from core.messages import KINDS, StandardMessage
from core.pipeline.http_client import env_proxy
from core.pipeline.ingest import Stored
from core.pipeline.retry import parse_retry_after, raise_for_response, raise_for_status
from core.redaction import mask_phone
from core.storage.db import UTCDateTime
from core.storage.models import NAMING
from core.web.app import create_app
from core.web.openapi import describe
from core.web.security import max_body

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
