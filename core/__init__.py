"""Switchboard: a plugin-based ASGI integration gateway.

This module is the public plugin API. Plugin packages import only these names (and, in
their tests, ``core.testing``); everything else in ``core`` is internal and may change.
The ``Gateway`` a hook receives is public too: ``settings``, ``plugin_config(name)``,
``db`` (``transaction()``: an SQLAlchemy Core connection), ``http``, ``submit(...)``,
``queue.enqueue_job(...)``, ``audit.record(...)``, ``mail.send(...)``.

The public names are listed once, as the ``TYPE_CHECKING`` imports below: type checkers
read them, and ``__all__`` and where each name lives are read from them (``_public_names``).
Names are imported on first use (PEP 562 ``__getattr__``): ``from core import hookimpl``
loads the hook marker, not the app.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.distribution import version

__version__ = version()

if TYPE_CHECKING:
    from core.auth.api_keys import create_api_key as create_api_key
    from core.auth.api_keys import revoke_api_key as revoke_api_key
    from core.auth.api_keys import rotate_api_key as rotate_api_key
    from core.auth.permissions import Principal as Principal
    from core.auth.permissions import requires as requires
    from core.auth.roles import PermissionInfo as PermissionInfo
    from core.auth.scoped import InvalidToken as InvalidToken
    from core.auth.scoped import issue_token as issue_token
    from core.auth.scoped import rate_limit as rate_limit
    from core.auth.scoped import verify_token as verify_token
    from core.auth.tokens import derive_key as derive_key
    from core.config.logging import traceback_of as traceback_of
    from core.config.settings import Settings as Settings
    from core.config.settings import load_settings as load_settings
    from core.contracts import Adapter as Adapter
    from core.contracts import AdminConsole as AdminConsole
    from core.contracts import AdminPage as AdminPage
    from core.contracts import Check as Check
    from core.contracts import Command as Command
    from core.contracts import CronJob as CronJob
    from core.contracts import DeliveryInfo as DeliveryInfo
    from core.contracts import DeliveryResult as DeliveryResult
    from core.contracts import Destination as Destination
    from core.contracts import ExportFile as ExportFile
    from core.contracts import ReportType as ReportType
    from core.errors import AuthenticationError as AuthenticationError
    from core.errors import BadRequest as BadRequest
    from core.errors import CheckFailed as CheckFailed
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
    from core.operations.paging import KeysetPage as KeysetPage
    from core.operations.paging import count_at_most as count_at_most
    from core.operations.paging import keyset_page as keyset_page
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
    from core.pipeline.exchanges import record_exchange as record_exchange
    from core.pipeline.http_client import env_proxy as env_proxy
    from core.pipeline.retry import parse_retry_after as parse_retry_after
    from core.pipeline.retry import raise_for_response as raise_for_response
    from core.pipeline.retry import raise_for_status as raise_for_status
    from core.pipeline.statuses import DeliveryStatus as DeliveryStatus
    from core.pipeline.stored_hooks import Stored as Stored
    from core.privacy import Privacy as Privacy
    from core.privacy.columns import ParticipantRef as ParticipantRef
    from core.privacy.columns import SealedJSON as SealedJSON
    from core.privacy.columns import SealedText as SealedText
    from core.privacy.columns import open_row as open_row
    from core.privacy.columns import seal_row as seal_row
    from core.redaction import mask as mask
    from core.redaction import mask_phone as mask_phone
    from core.storage.db import UTCDateTime as UTCDateTime
    from core.storage.db import among as among
    from core.storage.ids import uuid7 as uuid7
    from core.storage.models import NAMING as NAMING
    from core.storage.storable import storable as storable
    from core.untrusted import bounded_day as bounded_day
    from core.untrusted import bounded_int as bounded_int
    from core.untrusted import constant_time_equal as constant_time_equal
    from core.untrusted import defuse_formula as defuse_formula
    from core.web.app import create_app as create_app
    from core.web.openapi import describe as describe
    from core.web.requests import admin_console as admin_console
    from core.web.requests import gateway_of as gateway_of
    from core.web.requests import parse_json as parse_json
    from core.web.requests import path_uuid as path_uuid
    from core.web.requests import principal_of as principal_of
    from core.web.requests import read_json as read_json
    from core.web.requests import read_query as read_query
    from core.web.root_routes import at_root as at_root
    from core.web.security import max_body as max_body
    from core.web.webhooks import webhook_route as webhook_route


def _public_names() -> dict[str, str]:
    """Each public name and the module it lives in, read from this file's ``TYPE_CHECKING`` imports.

    Where a name lives is internal layout, free to change without the names changing.
    """
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    return {
        alias.asname or alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }


_PUBLIC = _public_names()
__all__ = sorted(_PUBLIC)


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
