"""``/api/messages``, ``/api/deliveries``, ``/api/conversations``, ``/api/logs``: JSON over ``browse`` and ``repair``."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core.auth.permissions import requires
from core.errors import BadRequest, NotFound
from core.operations import records as browse
from core.operations import repair
from core.operations import replies as conversations
from core.operations.filters import ConversationFilters, DeliveryFilters, LogFilters, MessageFilters
from core.web.api import answers as A
from core.web.api.params import parse_query, validate
from core.web.openapi import describe
from core.web.requests import gateway_of, path_uuid, read_json


def _uuid(request: Request, name: str = "id") -> uuid.UUID:
    return path_uuid(request, name, name)


def _found(item: dict[str, Any] | None, what: str) -> JSONResponse:
    if item is None:
        raise NotFound(f"no such {what}")
    return JSONResponse(item)


@requires("content.read", scopes=["messages:read"])
@describe(query=MessageFilters, responses={200: A.PAGE})
async def list_messages(request: Request) -> Response:
    """Messages, newest first (keyset-paginated: pass ``next`` back as ``cursor``)."""
    return JSONResponse(await browse.list_messages(gateway_of(request).db, parse_query(request, MessageFilters)))


@requires("content.read", scopes=["messages:read"])
@describe(responses={200: A.RECORD})
async def get_message(request: Request) -> Response:
    """One message with its raw payload, its deliveries and their attempts."""
    return _found(await browse.get_message(gateway_of(request).db, _uuid(request)), "message")


@requires("traffic.read", scopes=["deliveries:read"])
@describe(query=DeliveryFilters, responses={200: A.PAGE})
async def list_deliveries(request: Request) -> Response:
    """Deliveries, newest first; filter by status, destination, platform, message, time."""
    return JSONResponse(await browse.list_deliveries(gateway_of(request).db, parse_query(request, DeliveryFilters)))


@requires("content.read", scopes=["deliveries:read"])
@describe(responses={200: A.RECORD})
async def get_delivery(request: Request) -> Response:
    """One delivery with every attempt and its message."""
    return _found(await browse.get_delivery(gateway_of(request).db, _uuid(request)), "delivery")


@requires("deliveries.repair", scopes=["deliveries:write"])
@describe(responses={200: A.DELIVERY_STATE})
async def requeue_delivery(request: Request) -> Response:
    """Queue a dead, cancelled or waiting delivery again now, with a fresh budget of attempts."""
    return JSONResponse(await repair.requeue(gateway_of(request), _uuid(request), request.state.principal))


@requires("deliveries.repair", scopes=["deliveries:write"])
@describe(responses={200: A.DELIVERY_STATE})
async def cancel_delivery(request: Request) -> Response:
    """Stop a waiting delivery from being attempted again."""
    return JSONResponse(await repair.cancel(gateway_of(request), _uuid(request), request.state.principal))


@requires("deliveries.repair", scopes=["deliveries:write"])
@describe(status=204)
async def delete_delivery(request: Request) -> Response:
    """Delete one delivery and its attempts (not while it runs)."""
    await repair.delete(gateway_of(request), _uuid(request), request.state.principal)
    return Response(status_code=204)


@requires("deliveries.repair", scopes=["deliveries:write"])
@describe(body=DeliveryFilters, responses={200: A.REQUEUED})
async def requeue_deliveries(request: Request) -> Response:
    """Requeue every delivery matching the filters in the body (default: status dead)."""
    filters = validate(DeliveryFilters, await read_json(request, optional=True))
    return JSONResponse({"requeued": await repair.requeue_many(gateway_of(request), filters, request.state.principal)})


@requires("deliveries.repair", scopes=["deliveries:write"])
@describe(body=DeliveryFilters, responses={200: A.PURGED})
async def purge_deliveries(request: Request) -> Response:
    """Delete every finished delivery matching the filters in the body (``status`` required)."""
    filters = validate(DeliveryFilters, await read_json(request, optional=True))
    return JSONResponse({"purged": await repair.purge(gateway_of(request), filters, request.state.principal)})


@requires("content.read", scopes=["messages:read"])
@describe(query=ConversationFilters, responses={200: A.PAGE})
async def list_conversations(request: Request) -> Response:
    """Conversations, newest first."""
    filters = parse_query(request, ConversationFilters)
    return JSONResponse(await browse.list_conversations(gateway_of(request).db, filters))


@requires("content.read", scopes=["messages:read"])
@describe(responses={200: A.RECORD})
async def get_conversation(request: Request) -> Response:
    """One conversation, its state and its latest messages."""
    return _found(await browse.get_conversation(gateway_of(request).db, _uuid(request)), "conversation")


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(default="text", min_length=1, max_length=32)
    text: str | None = Field(default=None, max_length=4096)
    media: list[dict[str, Any]] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)


@requires("messages.send", scopes=["messages:write"])
@describe(body=Reply, status=202, responses={202: A.REPLY_QUEUED})
async def reply_to_conversation(request: Request) -> Response:
    """Send a message to the conversation's participant (202: queued for delivery)."""
    body = validate(Reply, await read_json(request, optional=True))
    if body.kind == "text" and not body.text:
        raise BadRequest("a text reply needs text", errors=[{"field": "text", "message": "required for kind text"}])
    try:
        stored = await conversations.reply(
            gateway_of(request),
            _uuid(request),
            kind=body.kind,
            text=body.text,
            media=body.media,
            extra=body.extra,
            principal=request.state.principal,
        )
    except ValueError as err:  # StandardMessage refused it (unknown media keys, …)
        raise BadRequest(str(err)) from err
    return JSONResponse(
        {"message_id": str(stored.message_id), "delivery_ids": [str(d) for d in stored.delivery_ids]},
        status_code=202,
    )


@requires("audit.read", scopes=["logs:read"])
@describe(query=LogFilters, responses={200: A.PAGE})
async def list_logs(request: Request) -> Response:
    """The audit log, newest first: requests, webhooks, deliveries, security and admin events."""
    return JSONResponse(await browse.list_logs(gateway_of(request).db, parse_query(request, LogFilters)))


@requires("audit.read", scopes=["logs:read"])
@describe(responses={200: A.RECORD})
async def get_log(request: Request) -> Response:
    """One audit entry with its detail."""
    try:
        log_id = int(request.path_params["id"])
    except ValueError as err:
        raise NotFound("no such log entry") from err
    return _found(await browse.get_log(gateway_of(request).db, log_id), "log entry")


def record_routes() -> list[BaseRoute]:
    return [
        Route("/api/messages", list_messages),
        Route("/api/messages/{id}", get_message),
        Route("/api/deliveries", list_deliveries),
        Route("/api/deliveries/requeue", requeue_deliveries, methods=["POST"]),
        Route("/api/deliveries/purge", purge_deliveries, methods=["POST"]),
        Route("/api/deliveries/{id}", get_delivery),
        Route("/api/deliveries/{id}", delete_delivery, methods=["DELETE"]),
        Route("/api/deliveries/{id}/requeue", requeue_delivery, methods=["POST"]),
        Route("/api/deliveries/{id}/cancel", cancel_delivery, methods=["POST"]),
        Route("/api/conversations", list_conversations),
        Route("/api/conversations/{id}", get_conversation),
        Route("/api/conversations/{id}/messages", reply_to_conversation, methods=["POST"]),
        Route("/api/logs", list_logs),
        Route("/api/logs/{id:int}", get_log),
    ]
