# Specifications: their bodies are their docstrings.
# mypy: disable-error-code="empty-body"
"""The hooks a Switchboard plugin may implement (pluggy project ``switchboard``).

Every hook may take the keyword argument ``gateway`` (the running app's context) or no
argument at all; pluggy passes only the arguments an implementation names. Registration
hooks return lists, which the core flattens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import uuid

    from sqlalchemy import MetaData
    from starlette.routing import BaseRoute

    from core.auth.roles import PermissionInfo
    from core.contracts import Adapter, Check, Command, Destination, ExportFile, ReportType
    from core.gateway import Gateway
    from core.messages import StandardMessage
    from core.pipeline.stored_hooks import Stored

PROJECT = "switchboard"
# The version of the plugin API (these hooks, the contracts, the names ``core`` exports). A
# minor release only adds; a major one may remove or change (docs/plugins.md, "Compatibility").
# A plugin states what it supports as ``SWITCHBOARD_API = ">=1.0,<2"`` in its entry-point module.
PLUGIN_API_VERSION = "1.4"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def switchboard_settings(config: Mapping[str, Any]) -> Any:
    """Validate this plugin's ``[plugins.<name>]`` table (``enabled`` removed, secrets resolved).

    Called only for the plugin that owns the table, before anything else. Return the
    validated settings object, which ``gateway.plugin_config(name)`` then returns; raise
    ``ValueError`` (pydantic's ``ValidationError`` is one) to stop start-up with the
    plugin's name in the message.
    """


@hookspec
def switchboard_adapters(gateway: Gateway) -> Sequence[Adapter]:
    """Return the inbound adapters this plugin provides (one per platform name)."""


@hookspec
def switchboard_destinations(gateway: Gateway) -> Sequence[Destination]:
    """Return the outbound destinations this plugin provides (one per destination name)."""


@hookspec
def switchboard_routes(gateway: Gateway) -> Sequence[BaseRoute]:
    """Return Starlette routes, mounted under ``/plugins/{plugin}``.

    Routes are authenticated by the core. Mark an endpoint with ``core.requires(...)`` to
    ask for a permission (the core's or one from ``switchboard_permissions``) and the API-key
    scopes that may call it; an unmarked endpoint needs any signed-in user.
    """


@hookspec
def switchboard_permissions() -> Sequence[PermissionInfo]:
    """Return this plugin's permissions: ``core.PermissionInfo`` items named ``<plugin>.<what>``.

    Each names the least built-in role that holds it (``role="operator"``: operators and admins);
    ``[auth.roles.<name>] permissions`` may list them, and routes require them with
    ``core.requires("<plugin>.<what>")``. Called once, before the routes are built.
    """


@hookspec
def switchboard_jobs(gateway: Gateway) -> Sequence[Any]:
    """Return worker jobs: async functions ``job(ctx, ...)`` and ``core.CronJob`` items.

    They run in the arq worker and, on the embedded default, in-process.
    """


@hookspec
def switchboard_admin_pages(gateway: Gateway) -> Sequence[Any]:
    """Return admin UI contributions: ``core.AdminPage`` items (nav entry, routes, template folder).

    The admin UI mounts each page's routes at ``/admin{page.path}``, lists it in its navigation
    and searches its template folder (after the user's, before the defaults).
    """


@hookspec
def switchboard_models() -> Sequence[MetaData]:
    """Return the SQLAlchemy ``MetaData`` of this plugin's tables (for migrations)."""


@hookspec
def switchboard_route_message(message: StandardMessage, gateway: Gateway) -> Sequence[str] | None:
    """Return extra destination names for an inbound message (beyond ``[[routes]]``).

    Called while a batch is prepared, before the database says which of its messages are
    duplicates: a platform's retry of a stored message is routed too (and gets no delivery).
    Decide here; act on new messages in ``switchboard_messages_stored``.
    """


@hookspec
async def switchboard_messages_stored(stored: Sequence[tuple[StandardMessage, Stored]], gateway: Gateway) -> None:
    """Called after new messages are committed (duplicates are not included).

    Each item pairs the message (with its ``id``) and what the core did with it:
    ``conversation_id``, ``conversation_opened`` (this message opened the conversation),
    ``delivery_ids``. May be a coroutine function. For reactions such as acknowledgements
    and opt-outs; an exception is logged and does not undo the commit.

    It runs before ``gateway.submit`` returns (so before a webhook is answered; waited for
    up to 10 s, after which the answer goes and the hook goes on) and before the batch's
    deliveries are queued: what it records is there for the sender's next request and for
    those deliveries. Keep it short; it may submit messages itself. At least once: when a
    process stops before a batch's hooks have run, the sweeper runs them a minute later, so
    what it records must bear being recorded twice. Each plugin's implementation runs on its
    own: one that raises does not stop the others, and is called again alone with the same
    messages later (1, 2, 4 … minutes; 8 times, then given up on record).
    """


@hookspec
def switchboard_report_types(gateway: Gateway) -> Sequence[ReportType]:
    """Return ``core.ReportType`` items: kinds of report the reports plugin can generate.

    Called by the reports plugin when it builds its catalogue; names must be unique across
    plugins. A plugin may add reports over its own tables this way.
    """


@hookspec
async def switchboard_erase_messages(message_ids: Sequence[uuid.UUID], gateway: Gateway) -> Mapping[str, int] | None:
    """Erase the content this plugin keeps about these messages (docs/privacy.md).

    Called by the retention job for messages past their platform's retention and by an erasure
    of a person for every message that carries them, *before* the core erases the messages
    themselves (their rows stay, without content: ids are still valid). Erase what is content or
    identifies a person (bodies, forms, media files, recipients); keep states and counts. Return
    the rows changed (or files removed) per table, ``{"whatsapp_media": 3}``; erasing again what
    is already erased changes nothing and counts nothing. May be a coroutine function.
    """


@hookspec
async def switchboard_erase_participant(participant: str, gateway: Gateway) -> Mapping[str, int] | None:
    """Erase or anonymise what this plugin keeps about ``participant`` beyond their messages.

    ``participant`` is a phone number, an e-mail address or a device subject as it arrived.
    Find rows with ``gateway.privacy.match(column, participant)`` (never ``column ==
    participant``: identifiers may be stored as a keyed hash). Called after
    ``switchboard_erase_messages`` for the person's messages. Return the rows changed per table;
    a second erasure of the same person counts nothing. May be a coroutine function.
    """


@hookspec
async def switchboard_export_participant(
    participant: str, message_ids: Sequence[uuid.UUID], gateway: Gateway
) -> Mapping[str, Sequence[Mapping[str, Any]]] | None:
    """Return everything this plugin keeps about ``participant``, for a subject-access export.

    ``message_ids`` are the person's messages (the core exports the messages themselves). Return
    JSON-able rows per table, ``{"devices_readings": [{...}, ...]}``; leave out secrets (key
    hashes, codes) and other people's data. May be a coroutine function.
    """


@hookspec
async def switchboard_export_files(
    participant: str, message_ids: Sequence[uuid.UUID], gateway: Gateway
) -> Sequence[ExportFile] | None:
    """Return ``core.ExportFile`` items: the files this plugin keeps about ``participant`` (media
    they sent or were sent), for their subject-access export.

    With any file, the export is a ZIP archive: ``export.json`` (the document of
    ``switchboard_export_participant``) and each file under ``files/<name>``. Nothing of other
    people. May be a coroutine function.
    """


@hookspec
def switchboard_checks(gateway: Gateway) -> Sequence[Check]:
    """Return ``core.Check`` items: outside dependencies of the plugin (a bucket, a far API) that
    ``/readyz`` (503 when one fails) and ``switchboard config check`` (exit status 1) verify."""


@hookspec
def switchboard_commands() -> Sequence[Command]:
    """Return ``core.Command`` items: subcommands of the ``switchboard`` CLI."""


@hookspec
async def switchboard_startup(gateway: Gateway) -> None:
    """Called once the gateway's database, HTTP client and queue are ready.

    May be a coroutine function.
    """


@hookspec
async def switchboard_shutdown(gateway: Gateway) -> None:
    """Called before the gateway closes its resources. May be a coroutine function.

    Each plugin's implementation runs on its own: one that raises is logged with its plugin's
    name, and the others still run.
    """
