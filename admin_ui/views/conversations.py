"""Conversations by platform and participant; one conversation as a transcript."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from admin_ui.console import console_of
from admin_ui.views.common import filtered_page, media_of, path_uuid, query_of
from core.auth.permissions import requires
from core.errors import NotFound
from core.operations import records
from core.operations.filters import ConversationFilters, MessageFilters


@requires("viewer")
async def list_conversations(request: Request) -> Response:
    console = console_of(request)
    f, page, errors, status = await filtered_page(
        request.query_params, ConversationFilters, console.page_size, lambda f: records.list_conversations(console.gateway.db, f)
    )
    context = {
        "f": f,
        "errors": errors,
        "page": page,
        "platforms": sorted(console.gateway.adapters),
        "next_query": query_of(f, cursor=page["next"]) if page["next"] else None,
    }
    return console.render(request, "conversations.html", context, block="results", status_code=status)


@requires("viewer")
async def show_conversation(request: Request) -> Response:
    """Messages oldest first, like a chat; ``cursor`` pages back to older ones."""
    console = console_of(request)
    conversation_id = path_uuid(request)
    item = await records.get_conversation(console.gateway.db, conversation_id, recent=1)
    if item is None:
        raise NotFound("no such conversation")
    f = MessageFilters(conversation=conversation_id, limit=100, cursor=request.query_params.get("cursor") or None)
    page = await records.list_messages(console.gateway.db, f)
    messages = [m | {"media": media_of(m.get("media"))} for m in reversed(page["items"])]
    return console.render(request, "conversation.html", {"c": item, "messages": messages, "older": page["next"]})
