"""Messages: live filtering (HTMX, filters kept in the URL), keyset pages, one message in full."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from admin_ui.console import console_of
from admin_ui.views.common import filtered_page, media_of
from core import path_uuid
from core.auth.permissions import requires
from core.errors import NotFound
from core.messages import KINDS
from core.operations import records
from core.operations.filters import MessageFilters


@requires("content.read")
async def list_messages(request: Request) -> Response:
    """Filter by platform, participant, direction, kind and date range; newest first."""
    console = console_of(request)
    f, page, errors, status = await filtered_page(
        request.query_params,
        MessageFilters,
        console.page_size,
        lambda f: records.list_messages(console.gateway.db, f),
        lambda f: records.count_messages(console.gateway.db, f, bound=console.settings.list_total_bound),
    )
    context = {
        "f": f,
        "errors": errors,
        "page": page,
        "kinds": sorted(KINDS),
        # A platform whose adapter is off now still names its stored messages.
        "platforms": sorted({*console.gateway.adapters, *([f.platform] if f.platform else [])}),
    }
    return console.render(request, "messages.html", context, block="results", status_code=status)


@requires("content.read")
async def show_message(request: Request) -> Response:
    """One message: metadata, text, media, its raw payload (redacted), its conversation and deliveries."""
    console = console_of(request)
    item = await records.get_message(console.gateway.db, path_uuid(request))
    if item is None:
        raise NotFound("no such message")
    adapter = console.gateway.adapters.get(item["platform"])
    extra_keys = adapter.redact_keys if adapter is not None else ()
    raw: Any = item.get("raw")
    # Redacted as the audit log redacts a webhook's payload: [audit] redact_keys and the adapter's own.
    item["raw"] = console.gateway.audit.redacted(raw, extra_keys) if raw is not None else None
    item["extra"] = console.gateway.audit.redacted(item.get("extra"), extra_keys)
    item["media"] = media_of(item.get("media"))
    return console.render(request, "message.html", {"m": item})
