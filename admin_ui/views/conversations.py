"""Conversations by platform and participant; one conversation as a transcript."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from admin_ui.console import console_of
from admin_ui.flash import redirect_with
from admin_ui.views.common import caller, filtered_page, media_of
from core import path_uuid
from core.auth.permissions import requires
from core.errors import NotFound
from core.operations import records, replies
from core.operations.filters import ConversationFilters, MessageFilters
from core.operations.plugin_services import message_deliveries


@requires("content.read")
async def list_conversations(request: Request) -> Response:
    console = console_of(request)
    f, page, errors, status = await filtered_page(
        request.query_params,
        ConversationFilters,
        console.page_size,
        lambda f: records.list_conversations(console.gateway.db, f),
        lambda f: records.count_conversations(console.gateway.db, f, bound=console.settings.list_total_bound),
    )
    context = {
        "f": f,
        "errors": errors,
        "page": page,
        "platforms": sorted(console.gateway.adapters),
    }
    return console.render(request, "conversations.html", context, block="results", status_code=status)


@requires("content.read")
async def show_conversation(request: Request) -> Response:
    """Messages oldest first, like a chat, each outbound one with its delivery; ``cursor`` pages back to older ones."""
    return await _transcript(request)


async def _transcript(
    request: Request, *, typed: str = "", errors: dict[str, str] | None = None, status_code: int = 200
) -> Response:
    console = console_of(request)
    conversation_id = path_uuid(request)
    item = await records.get_conversation(console.gateway.db, conversation_id, recent=1)
    if item is None:
        raise NotFound("no such conversation")
    f = MessageFilters(conversation=conversation_id, limit=100, cursor=request.query_params.get("cursor") or None)
    page = await records.list_messages(console.gateway.db, f)
    messages = [m | {"media": media_of(m.get("media"))} for m in reversed(page["items"])]
    sent = await message_deliveries(console.gateway, [uuid.UUID(str(m["id"])) for m in messages if m["direction"] == "out"])
    for m in messages:
        m["deliveries"] = sent.get(uuid.UUID(str(m["id"])), [])
    context = {
        "c": item,
        "messages": messages,
        "older": page["next"],
        "can_reply": item["platform"] in console.gateway.destinations,
        "typed": typed,
        "errors": errors or {},
    }
    return console.render(request, "conversation.html", context, status_code=status_code)


@requires("messages.send")
async def reply(request: Request) -> Response:
    """Send a text to the conversation's participant on its platform (``core.operations.replies``); its delivery shows in the transcript."""
    console = console_of(request)
    conversation_id = path_uuid(request)
    form = await request.form()
    text = str(form.get("text") or "").strip()
    if not text or len(text) > MAX_REPLY:
        message = "write the reply first" if not text else f"at most {MAX_REPLY} characters"
        return await _transcript(request, typed=text, errors={"text": message}, status_code=422)
    await replies.reply(console.gateway, conversation_id, text=text, principal=caller(request))
    return redirect_with(request, console.gateway, f"/admin/conversations/{conversation_id}", notice="Reply queued.")


MAX_REPLY = 4096  # as the API's reply (core.web.api.records.Reply)
