"""Switchboard: a plugin-based ASGI integration gateway.

This module is the public plugin API. Plugin packages import only these names (and, in
their tests, ``core.testing``); everything else in ``core`` is internal and may change.
The ``Gateway`` a hook receives is public too: ``settings``, ``plugin_config(name)``,
``db`` (``transaction()``: an SQLAlchemy Core connection), ``http``, ``submit(...)``,
``queue.enqueue_job(...)``, ``audit.record(...)``, ``mail.send(...)``.

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
    from core.auth.scoped import InvalidToken as InvalidToken
    from core.auth.scoped import issue_token as issue_token
    from core.auth.scoped import rate_limit as rate_limit
    from core.auth.scoped import verify_token as verify_token
    from core.auth.tokens import derive_key as derive_key
    from core.config.settings import Settings as Settings
    from core.config.settings import load_settings as load_settings
    from core.contracts import Adapter as Adapter
    from core.contracts import AdminConsole as AdminConsole
    from core.contracts import AdminPage as AdminPage
    from core.contracts import Command as Command
    from core.contracts import CronJob as CronJob
    from core.contracts import DeliveryInfo as DeliveryInfo
    from core.contracts import DeliveryResult as DeliveryResult
    from core.contracts import Destination as Destination
    from core.contracts import ReportType as ReportType
    from core.errors import AuthenticationError as AuthenticationError
    from core.errors import BadRequest as BadRequest
    from core.errors import ConfigError as ConfigError
    from core.errors import Conflict as Conflict
    from core.errors import DeliveryError as DeliveryError
    from core.errors import Forbidden as Forbidden
    from core.errors import HTTPError as HTTPError
    from core.errors import MailError as MailError
    from core.errors import NotFound as NotFound
    from core.errors import TooManyRequests as TooManyRequests
    from core.errors import Unprocessable as Unprocessable
    from core.gateway import Gateway as Gateway
    from core.hookspecs import PLUGIN_API_VERSION as PLUGIN_API_VERSION
    from core.hookspecs import hookimpl as hookimpl
    from core.messages import KINDS as KINDS
    from core.messages import StandardMessage as StandardMessage
    from core.operations import exports as exports
    from core.operations.plugin_services import delete_delivery as delete_delivery
    from core.operations.plugin_services import delivery_states as delivery_states
    from core.operations.plugin_services import issue_user_key as issue_user_key
    from core.operations.plugin_services import message_deliveries as message_deliveries
    from core.operations.plugin_services import requeue_delivery as requeue_delivery
    from core.operations.plugin_services import user_keys as user_keys
    from core.operations.user_accounts import add_user as add_user
    from core.operations.user_accounts import change_user as change_user
    from core.operations.user_accounts import find_users as find_users
    from core.operations.user_accounts import user_account as user_account
    from core.periods import RELATIVE_PERIODS as RELATIVE_PERIODS
    from core.periods import Period as Period
    from core.periods import check_period as check_period
    from core.periods import period_of as period_of
    from core.pipeline.http_client import env_proxy as env_proxy
    from core.pipeline.ingest import Stored as Stored
    from core.pipeline.retry import parse_retry_after as parse_retry_after
    from core.pipeline.retry import raise_for_response as raise_for_response
    from core.pipeline.retry import raise_for_status as raise_for_status
    from core.pipeline.statuses import DeliveryStatus as DeliveryStatus
    from core.privacy import Privacy as Privacy
    from core.privacy.columns import ParticipantRef as ParticipantRef
    from core.privacy.columns import SealedJSON as SealedJSON
    from core.privacy.columns import SealedText as SealedText
    from core.privacy.columns import open_row as open_row
    from core.privacy.columns import seal_row as seal_row
    from core.redaction import mask_phone as mask_phone
    from core.storage.db import UTCDateTime as UTCDateTime
    from core.storage.ids import uuid7 as uuid7
    from core.storage.models import NAMING as NAMING
    from core.untrusted import bounded_day as bounded_day
    from core.untrusted import bounded_int as bounded_int
    from core.untrusted import constant_time_equal as constant_time_equal
    from core.untrusted import defuse_formula as defuse_formula
    from core.web.app import create_app as create_app
    from core.web.openapi import describe as describe
    from core.web.requests import admin_console as admin_console
    from core.web.requests import gateway_of as gateway_of
    from core.web.requests import parse_json as parse_json
    from core.web.requests import principal_of as principal_of
    from core.web.requests import read_json as read_json
    from core.web.requests import read_query as read_query
    from core.web.root_routes import at_root as at_root
    from core.web.security import max_body as max_body
    from core.web.webhooks import webhook_route as webhook_route

# Where each public name lives; internal layout, free to change without the names changing.
_PUBLIC: dict[str, str] = {
    "create_api_key": "core.auth.api_keys",
    "revoke_api_key": "core.auth.api_keys",
    "rotate_api_key": "core.auth.api_keys",
    "Principal": "core.auth.permissions",
    "InvalidToken": "core.auth.scoped",
    "issue_token": "core.auth.scoped",
    "rate_limit": "core.auth.scoped",
    "verify_token": "core.auth.scoped",
    "requires": "core.auth.permissions",
    "derive_key": "core.auth.tokens",
    "Settings": "core.config.settings",
    "load_settings": "core.config.settings",
    "Adapter": "core.contracts",
    "AdminConsole": "core.contracts",
    "AdminPage": "core.contracts",
    "Command": "core.contracts",
    "CronJob": "core.contracts",
    "DeliveryInfo": "core.contracts",
    "DeliveryResult": "core.contracts",
    "Destination": "core.contracts",
    "ReportType": "core.contracts",
    "AuthenticationError": "core.errors",
    "BadRequest": "core.errors",
    "ConfigError": "core.errors",
    "Conflict": "core.errors",
    "DeliveryError": "core.errors",
    "Forbidden": "core.errors",
    "HTTPError": "core.errors",
    "MailError": "core.errors",
    "NotFound": "core.errors",
    "TooManyRequests": "core.errors",
    "Unprocessable": "core.errors",
    "Gateway": "core.gateway",
    "PLUGIN_API_VERSION": "core.hookspecs",
    "hookimpl": "core.hookspecs",
    "KINDS": "core.messages",
    "StandardMessage": "core.messages",
    "delete_delivery": "core.operations.plugin_services",
    "delivery_states": "core.operations.plugin_services",
    "message_deliveries": "core.operations.plugin_services",
    "issue_user_key": "core.operations.plugin_services",
    "requeue_delivery": "core.operations.plugin_services",
    "user_keys": "core.operations.plugin_services",
    "add_user": "core.operations.user_accounts",
    "change_user": "core.operations.user_accounts",
    "find_users": "core.operations.user_accounts",
    "user_account": "core.operations.user_accounts",
    "exports": "core.operations",
    "Period": "core.periods",
    "RELATIVE_PERIODS": "core.periods",
    "check_period": "core.periods",
    "period_of": "core.periods",
    "env_proxy": "core.pipeline.http_client",
    "Stored": "core.pipeline.ingest",
    "parse_retry_after": "core.pipeline.retry",
    "raise_for_response": "core.pipeline.retry",
    "raise_for_status": "core.pipeline.retry",
    "DeliveryStatus": "core.pipeline.statuses",
    "mask_phone": "core.redaction",
    "UTCDateTime": "core.storage.db",
    "Privacy": "core.privacy",
    "ParticipantRef": "core.privacy.columns",
    "SealedJSON": "core.privacy.columns",
    "SealedText": "core.privacy.columns",
    "open_row": "core.privacy.columns",
    "seal_row": "core.privacy.columns",
    "storable": "core.storage.storable",
    "uuid7": "core.storage.ids",
    "NAMING": "core.storage.models",
    "bounded_day": "core.untrusted",
    "bounded_int": "core.untrusted",
    "constant_time_equal": "core.untrusted",
    "defuse_formula": "core.untrusted",
    "create_app": "core.web.app",
    "describe": "core.web.openapi",
    "admin_console": "core.web.requests",
    "gateway_of": "core.web.requests",
    "principal_of": "core.web.requests",
    "parse_json": "core.web.requests",
    "read_json": "core.web.requests",
    "read_query": "core.web.requests",
    "at_root": "core.web.root_routes",
    "max_body": "core.web.security",
    "webhook_route": "core.web.webhooks",
}

__all__ = [
    "add_user",
    "change_user",
    "create_api_key",
    "find_users",
    "revoke_api_key",
    "rotate_api_key",
    "Adapter",
    "AdminConsole",
    "admin_console",
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
    "InvalidToken",
    "KINDS",
    "MailError",
    "NAMING",
    "NotFound",
    "PLUGIN_API_VERSION",
    "Period",
    "RELATIVE_PERIODS",
    "Principal",
    "ReportType",
    "Settings",
    "StandardMessage",
    "Stored",
    "TooManyRequests",
    "UTCDateTime",
    "Privacy",
    "ParticipantRef",
    "SealedJSON",
    "SealedText",
    "open_row",
    "seal_row",
    "Unprocessable",
    "at_root",
    "check_period",
    "create_app",
    "delete_delivery",
    "delivery_states",
    "derive_key",
    "describe",
    "env_proxy",
    "exports",
    "gateway_of",
    "principal_of",
    "hookimpl",
    "issue_user_key",
    "issue_token",
    "load_settings",
    "mask_phone",
    "max_body",
    "message_deliveries",
    "parse_json",
    "parse_retry_after",
    "period_of",
    "rate_limit",
    "raise_for_response",
    "raise_for_status",
    "read_json",
    "read_query",
    "requeue_delivery",
    "requires",
    "storable",
    "uuid7",
    "user_account",
    "bounded_day",
    "bounded_int",
    "constant_time_equal",
    "defuse_formula",
    "user_keys",
    "verify_token",
    "webhook_route",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'core' has no attribute {name!r}")
    package = importlib.import_module(module)
    # A public name may be a module of its own (``exports``): import it as a submodule.
    value = getattr(package, name) if hasattr(package, name) else importlib.import_module(f"{module}.{name}")
    globals()[name] = value  # found once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
