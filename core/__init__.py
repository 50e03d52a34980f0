"""Switchboard: a plugin-based ASGI integration gateway.

This module is the public plugin API. Plugin packages import only these names (and, in
their tests, ``core.testing``); everything else in ``core`` is internal and may change.
The ``Gateway`` a hook receives is public too: ``settings``, ``plugin_config(name)``,
``db`` (``transaction()``: an SQLAlchemy Core connection), ``http``, ``submit(...)``,
``queue.enqueue_job(...)``, ``audit.record(...)``.

Names are imported on first use (PEP 562 ``__getattr__``): ``from core import hookimpl``
loads the hook marker, not the app. Type checkers read the ``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any


def _distribution_version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - a stripped interpreter
        return "0.0.0+unknown"
    try:
        return version("switchboard")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0.0.0+unknown"


__version__ = _distribution_version()

if TYPE_CHECKING:
    from core.auth.api_keys import create_api_key as create_api_key
    from core.auth.api_keys import revoke_api_key as revoke_api_key
    from core.auth.api_keys import rotate_api_key as rotate_api_key
    from core.auth.permissions import Principal as Principal
    from core.auth.permissions import requires as requires
    from core.config.settings import Settings as Settings
    from core.config.settings import load_settings as load_settings
    from core.contracts import Adapter as Adapter
    from core.contracts import Command as Command
    from core.contracts import CronJob as CronJob
    from core.contracts import DeliveryInfo as DeliveryInfo
    from core.contracts import DeliveryResult as DeliveryResult
    from core.contracts import Destination as Destination
    from core.errors import AuthenticationError as AuthenticationError
    from core.errors import BadRequest as BadRequest
    from core.errors import ConfigError as ConfigError
    from core.errors import Conflict as Conflict
    from core.errors import DeliveryError as DeliveryError
    from core.errors import Forbidden as Forbidden
    from core.errors import HTTPError as HTTPError
    from core.errors import NotFound as NotFound
    from core.errors import TooManyRequests as TooManyRequests
    from core.errors import Unprocessable as Unprocessable
    from core.gateway import Gateway as Gateway
    from core.hookspecs import PLUGIN_API_VERSION as PLUGIN_API_VERSION
    from core.hookspecs import hookimpl as hookimpl
    from core.messages import KINDS as KINDS
    from core.messages import StandardMessage as StandardMessage
    from core.pipeline.http_client import env_proxy as env_proxy
    from core.pipeline.ingest import Stored as Stored
    from core.pipeline.retry import parse_retry_after as parse_retry_after
    from core.pipeline.retry import raise_for_response as raise_for_response
    from core.pipeline.retry import raise_for_status as raise_for_status
    from core.pipeline.statuses import DeliveryStatus as DeliveryStatus
    from core.redaction import mask_phone as mask_phone
    from core.storage.db import UTCDateTime as UTCDateTime
    from core.storage.ids import uuid7 as uuid7
    from core.storage.models import NAMING as NAMING
    from core.web.app import create_app as create_app
    from core.web.openapi import describe as describe
    from core.web.requests import gateway_of as gateway_of
    from core.web.requests import parse_json as parse_json
    from core.web.requests import read_json as read_json
    from core.web.security import max_body as max_body

# Where each public name lives; internal layout, free to change without the names changing.
_PUBLIC: dict[str, str] = {
    "create_api_key": "core.auth.api_keys",
    "revoke_api_key": "core.auth.api_keys",
    "rotate_api_key": "core.auth.api_keys",
    "Principal": "core.auth.permissions",
    "requires": "core.auth.permissions",
    "Settings": "core.config.settings",
    "load_settings": "core.config.settings",
    "Adapter": "core.contracts",
    "Command": "core.contracts",
    "CronJob": "core.contracts",
    "DeliveryInfo": "core.contracts",
    "DeliveryResult": "core.contracts",
    "Destination": "core.contracts",
    "AuthenticationError": "core.errors",
    "BadRequest": "core.errors",
    "ConfigError": "core.errors",
    "Conflict": "core.errors",
    "DeliveryError": "core.errors",
    "Forbidden": "core.errors",
    "HTTPError": "core.errors",
    "NotFound": "core.errors",
    "TooManyRequests": "core.errors",
    "Unprocessable": "core.errors",
    "Gateway": "core.gateway",
    "PLUGIN_API_VERSION": "core.hookspecs",
    "hookimpl": "core.hookspecs",
    "KINDS": "core.messages",
    "StandardMessage": "core.messages",
    "env_proxy": "core.pipeline.http_client",
    "Stored": "core.pipeline.ingest",
    "parse_retry_after": "core.pipeline.retry",
    "raise_for_response": "core.pipeline.retry",
    "raise_for_status": "core.pipeline.retry",
    "DeliveryStatus": "core.pipeline.statuses",
    "mask_phone": "core.redaction",
    "UTCDateTime": "core.storage.db",
    "uuid7": "core.storage.ids",
    "NAMING": "core.storage.models",
    "create_app": "core.web.app",
    "describe": "core.web.openapi",
    "gateway_of": "core.web.requests",
    "parse_json": "core.web.requests",
    "read_json": "core.web.requests",
    "max_body": "core.web.security",
}

__all__ = [
    "create_api_key",
    "revoke_api_key",
    "rotate_api_key",
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
    "DeliveryStatus",
    "Destination",
    "Forbidden",
    "Gateway",
    "HTTPError",
    "KINDS",
    "NAMING",
    "NotFound",
    "PLUGIN_API_VERSION",
    "Principal",
    "Settings",
    "StandardMessage",
    "Stored",
    "TooManyRequests",
    "UTCDateTime",
    "Unprocessable",
    "create_app",
    "describe",
    "env_proxy",
    "gateway_of",
    "hookimpl",
    "load_settings",
    "mask_phone",
    "max_body",
    "parse_json",
    "parse_retry_after",
    "raise_for_response",
    "raise_for_status",
    "read_json",
    "requires",
    "uuid7",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
