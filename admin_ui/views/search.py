"""The search box of every page: messages by id, external id or participant prefix (the whole
identifier with a [privacy] key: identifiers are stored sealed); deliveries by id."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin_ui.console import console_of
from core.auth.permissions import requires
from core.operations import records


@requires("content.read")
async def search_page(request: Request) -> Response:
    """The matches; a single one opens at once."""
    console = console_of(request)
    text = (request.query_params.get("q") or "").strip()[:200]
    # An external id is unique per platform: the adapters' platforms and the plugins that store messages themselves.
    platforms = {*console.gateway.adapters, *console.gateway.plugins.infos}
    found = await records.search(console.gateway.db, text, platforms, limit=console.page_size)
    hits = [f"/admin/messages/{m['id']}" for m in found["messages"]]
    hits += [f"/admin/deliveries/{d['id']}" for d in found["deliveries"]]
    if len(hits) == 1 and request.query_params.get("list") != "1":
        return RedirectResponse(hits[0], status_code=303)
    return console.render(request, "search.html", {"q": text, "found": found, "sealed": console.gateway.privacy.enabled})
