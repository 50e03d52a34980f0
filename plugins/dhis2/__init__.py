"""The ``dhis2`` plugin: DHIS2 aggregate and tracker submission, mappings, import summaries.

Each ``[plugins.dhis2.instances.<name>]`` is a destination ``dhis2:<name>``; the routes
under ``/plugins/dhis2`` submit data to it and manage the code mappings. See docs/dhis2.md.

The package, by concern; the sub-packages import one way only: ``compat`` → ``submission``
→ ``delivery``, and ``compat``/``submission`` → ``mappings`` (tests/test_architecture.py):

- here: the hooks, and what they return that spans the sub-packages: ``destination``
  (``dhis2:<instance>``: a stored submission rendered, sent and judged), ``cli``; shared by
  all: ``settings``, ``context`` (what endpoints share), ``client`` (one instance's URLs,
  credentials and calls), ``models`` (the tables), ``uids``, ``privacy`` (submission bodies
  erased with their messages: docs/privacy.md).
- ``compat/``: dhis2gw's API (``[plugins.dhis2.compat]``): ``routes`` (``compat_routes``)
  and its ``aggregate``, ``logs``, ``mappings``, ``users`` routes, ``answers``, ``cors``.
- ``submission/``: what is sent: ``routes`` (``POST /aggregate``, ``POST /tracker``),
  ``aggregate`` (a body → a dataValueSet), ``tracker``, ``templates`` (routed messages),
  ``periods``, ``problems`` (``InvalidSubmission``).
- ``delivery/``: sending it: ``aggregate`` and ``tracker`` (the calls: chunks, polling),
  ``summaries`` (DHIS2's import answers, parsed), ``answers`` (HTTP answers without one →
  ``DeliveryError``), ``report_type`` (``dhis2_imports``, for the reports plugin).
- ``mappings/``: the code mappings: ``store`` (lookups, pages, upserts), ``importer``
  (validate a file, write it all or nothing), ``routes``, ``admin`` (the console page),
  ``tabular`` and ``xlsx_rows`` (reading files), ``exports`` (writing them), ``metadata``
  (uids checked against an instance).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import MetaData
from starlette.routing import BaseRoute

from core import AdminPage, Command, Destination, Gateway, PermissionInfo, ReportType, hookimpl
from plugins.dhis2 import privacy
from plugins.dhis2.cli import COMMAND
from plugins.dhis2.compat.routes import compat_routes
from plugins.dhis2.context import DHIS2Context
from plugins.dhis2.delivery.report_type import ImportResults
from plugins.dhis2.destination import DHIS2Destination
from plugins.dhis2.mappings import store
from plugins.dhis2.mappings.admin import MappingsPage
from plugins.dhis2.mappings.routes import MappingEndpoints
from plugins.dhis2.models import metadata
from plugins.dhis2.settings import DHIS2Settings
from plugins.dhis2.submission.routes import SubmissionEndpoints

# The plugin API versions this plugin is written against (docs/plugins.md, "Versions and compatibility").
SWITCHBOARD_API = ">=1.2,<2"


@hookimpl
def switchboard_settings(config: Mapping[str, Any]) -> DHIS2Settings:
    return DHIS2Settings.model_validate(dict(config))


@hookimpl
def switchboard_models() -> list[MetaData]:
    return [metadata]


@hookimpl
def switchboard_destinations(gateway: Gateway) -> list[Destination]:
    settings: DHIS2Settings = gateway.plugin_config("dhis2")
    return [DHIS2Destination(name, settings, gateway) for name in settings.instances]


@hookimpl
def switchboard_permissions() -> list[PermissionInfo]:
    return [
        PermissionInfo("dhis2.mappings.read", "See and export the data element and org unit mappings", "viewer"),
        PermissionInfo("dhis2.mappings.manage", "Import and delete mappings", "operator"),
        PermissionInfo("dhis2.submit", "Submit aggregate and tracker data to DHIS2; dhis2gw tokens", "operator"),
    ]


@hookimpl
def switchboard_routes(gateway: Gateway) -> list[BaseRoute]:
    context = DHIS2Context(gateway)
    return [
        *SubmissionEndpoints(context).routes(),
        *MappingEndpoints(context, store.DATA_VALUES, "/mappings").routes(),
        *MappingEndpoints(context, store.ORG_UNITS, "/orgunit-mappings").routes(),
        *compat_routes(context),  # dhis2gw's API at the root, when [plugins.dhis2.compat] is on
    ]


@hookimpl
def switchboard_admin_pages(gateway: Gateway) -> list[AdminPage]:
    return [MappingsPage(DHIS2Context(gateway)).admin_page()]


@hookimpl
def switchboard_commands() -> list[Command]:
    return [COMMAND]


@hookimpl
def switchboard_report_types(gateway: Gateway) -> list[ReportType]:
    """The import results of every instance (``dhis2_imports``), when the reports plugin is on."""
    settings: DHIS2Settings = gateway.plugin_config("dhis2")
    return [ImportResults(list(settings.instances))]


@hookimpl
async def switchboard_erase_messages(message_ids: Sequence[uuid.UUID], gateway: Gateway) -> dict[str, int]:
    return await privacy.erase_messages(gateway, message_ids)
