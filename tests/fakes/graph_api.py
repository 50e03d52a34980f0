"""A fake of Meta's Graph API for the WhatsApp Cloud API, served over real HTTP on loopback.

It answers the three calls the plugin makes, in Graph's formats:

- ``POST /{version}/{phone_number_id}/messages``: a send (``contacts[]`` and
  ``messages[].id`` = a new wamid) or a read receipt (``{"success": true}``);
- ``GET /{version}/{media_id}``: a media node (``url``, ``mime_type``, ``sha256``,
  ``file_size``, ``id``);
- ``GET /whatsapp_business/attachments/?mid=…``: the file itself (lookaside).

Every call needs ``Authorization: Bearer <access_token>`` (otherwise a 401 with code 190).
Bodies are checked the way Graph checks them (code 100 for a missing or invalid parameter),
and ``fail_next`` queues Graph error answers: ``{"error": {"message", "type", "code",
"error_subcode", "error_data": {"messaging_product", "details"}, "fbtrace_id"}}``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.serving import serving

ACCESS_TOKEN = "EAAGm0PX4ZCpsBAtest-access-token"
# Graph's messages and details for the errors the tests meet (Cloud API error codes page).
ERRORS: dict[int, tuple[str, str, str]] = {
    4: ("(#4) Application request limit reached", "OAuthException", "Too many API calls from this app."),
    80007: ("(#80007) Rate limit issues", "OAuthException", "The WhatsApp Business Account reached its rate limit."),
    130429: ("(#130429) Rate limit hit", "OAuthException", "Cloud API message throughput has been reached."),
    131056: (
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        "OAuthException",
        "Message failed to send because there were too many messages sent from this phone number to the same"
        " phone number in a short period of time.",
    ),
    131047: (
        "(#131047) Re-engagement message",
        "OAuthException",
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
    ),
    131026: ("(#131026) Message Undeliverable", "OAuthException", "Unable to deliver message."),
    131000: ("(#131000) Something went wrong", "OAuthException", "Something went wrong."),
    100: ("(#100) Invalid parameter", "OAuthException", "Parameter value is not valid"),
    190: (
        "Error validating access token: Session has expired.",
        "OAuthException",
        "The access token has expired or is invalid.",
    ),
}
SEND_TYPES = {
    "text",
    "template",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "interactive",
    "reaction",
    "location",
}


@dataclass
class GraphRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class StoredMedia:
    content: bytes
    mime_type: str
    # What the download answers as Content-Type (default: mime_type).
    served_as: str | None = None


@dataclass
class FakeGraph:
    url: str = ""
    access_token: str = ACCESS_TOKEN
    requests: list[GraphRequest] = field(default_factory=list)
    media: dict[str, StoredMedia] = field(default_factory=dict)
    # Whether media nodes say how big the file is (Graph's file_size).
    declares_size: bool = True
    # The wamids the next sends get (afterwards: generated ones).
    next_wamids: list[str] = field(default_factory=list)
    _failures: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    _media_failures: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    _sent: int = 0

    # -- scripting -------------------------------------------------------------------------

    def fail_next(
        self, code: int, *, status: int = 400, times: int = 1, subcode: int | None = None, details: str | None = None
    ) -> None:
        """Answer the next ``times`` message sends with Graph error ``code`` (HTTP ``status``)."""
        self._failures += [(status, error_body(code, subcode=subcode, details=details))] * times

    def fail_media_next(self, code: int, *, status: int = 500, times: int = 1) -> None:
        """Answer the next ``times`` media lookups with Graph error ``code`` (HTTP ``status``)."""
        self._media_failures += [(status, error_body(code))] * times

    def add_media(self, media_id: str, content: bytes, mime_type: str, *, served_as: str | None = None) -> None:
        self.media[media_id] = StoredMedia(content, mime_type, served_as)

    def sends(self) -> list[dict[str, Any]]:
        """The JSON bodies POSTed to the messages endpoint, in order."""
        return [r.json() for r in self.requests if r.method == "POST" and r.path.endswith("/messages")]

    # -- endpoints -------------------------------------------------------------------------

    async def _record(self, request: Request) -> GraphRequest:
        seen = GraphRequest(
            request.method, request.url.path, dict(request.query_params), dict(request.headers), await request.body()
        )
        self.requests.append(seen)
        return seen

    def _authorised(self, seen: GraphRequest) -> bool:
        return seen.headers.get("authorization") == f"Bearer {self.access_token}"

    async def messages(self, request: Request) -> Response:
        seen = await self._record(request)
        if not self._authorised(seen):
            return JSONResponse(error_body(190, subcode=463), status_code=401)
        if self._failures:
            status, body = self._failures.pop(0)
            return JSONResponse(body, status_code=status)
        try:
            body = seen.json()
        except ValueError:
            return JSONResponse(error_body(100, details="The request body is not valid JSON"), status_code=400)
        problem = invalid_send(body)
        if problem:
            return JSONResponse(error_body(100, details=problem), status_code=400)
        if body.get("status") == "read":
            return JSONResponse({"success": True})
        self._sent += 1
        wamid = (
            self.next_wamids.pop(0)
            if self.next_wamids
            else "wamid." + base64.b64encode(f"HBgM{body['to']}:{self._sent}:{secrets.token_hex(8)}".encode()).decode()
        )
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"].lstrip("+")}],
                "messages": [{"id": wamid, "message_status": "accepted"}],
            }
        )

    async def media_node(self, request: Request) -> Response:
        seen = await self._record(request)
        if not self._authorised(seen):
            return JSONResponse(error_body(190, subcode=463), status_code=401)
        if self._media_failures:
            status, body = self._media_failures.pop(0)
            return JSONResponse(body, status_code=status)
        media_id = request.path_params["node"]
        stored = self.media.get(media_id)
        if stored is None:
            message = (
                f"Unsupported get request. Object with ID '{media_id}' does not exist, cannot be loaded due to"
                " missing permissions, or does not support this operation."
            )
            body = {"error": {"message": message, "type": "GraphMethodException", "code": 100, "error_subcode": 33}}
            body["error"]["fbtrace_id"] = _trace()
            return JSONResponse(body, status_code=400)
        node = {
            "messaging_product": "whatsapp",
            "url": f"{self.url}/whatsapp_business/attachments/?mid={media_id}&ext=1700000000&hash=ATtest",
            "mime_type": stored.mime_type,
            "sha256": hashlib.sha256(stored.content).hexdigest(),
            "file_size": str(len(stored.content)),
            "id": media_id,
        }
        if not self.declares_size:
            del node["file_size"]
        return JSONResponse(node)

    async def attachment(self, request: Request) -> Response:
        seen = await self._record(request)
        if not self._authorised(seen):
            return Response(b"", status_code=401)
        stored = self.media.get(request.query_params.get("mid", ""))
        if stored is None:
            return Response(b"", status_code=404)
        return Response(stored.content, media_type=stored.served_as or stored.mime_type)


def error_body(code: int, *, subcode: int | None = None, details: str | None = None) -> dict[str, Any]:
    message, kind, default_details = ERRORS.get(code, (f"(#{code}) Error", "OAuthException", "An error occurred."))
    error: dict[str, Any] = {
        "message": message,
        "type": kind,
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details or default_details},
        "fbtrace_id": _trace(),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def invalid_send(body: Any) -> str | None:
    """What Graph would call an invalid parameter in a messages request, or ``None``."""
    if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
        return "Param messaging_product is required and must be 'whatsapp'"
    if body.get("status") == "read":
        return None if isinstance(body.get("message_id"), str) else "Param message_id is required"
    to, kind = body.get("to"), body.get("type", "text")
    if not isinstance(to, str) or not to.lstrip("+").isdigit():
        return "Param to must be a phone number"
    if kind not in SEND_TYPES or not isinstance(body.get(kind), dict):
        return f"Param {kind} is required"
    part = body[kind]
    if kind == "text" and not isinstance(part.get("body"), str):
        return "Param text['body'] is required"
    if kind == "template" and not (isinstance(part.get("name"), str) and isinstance(part.get("language"), dict)):
        return "Param template['name'] and template['language'] are required"
    if kind in ("image", "video", "audio", "document", "sticker") and ("id" in part) == ("link" in part):
        return f"Param {kind} must have exactly one of id and link"
    if kind == "interactive" and not isinstance(part.get("action"), dict):
        return "Param interactive['action'] is required"
    return None


def _trace() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


@asynccontextmanager
async def running_graph() -> AsyncIterator[FakeGraph]:
    """A fake Graph API listening on a free loopback port; ``.url`` is its base URL."""
    graph = FakeGraph()
    app = Starlette(
        routes=[
            Route("/whatsapp_business/attachments/", graph.attachment, methods=["GET"]),
            Route("/{version}/{phone_number_id}/messages", graph.messages, methods=["POST"]),
            Route("/{version}/{node}", graph.media_node, methods=["GET"]),
        ]
    )
    async with serving(app) as base:
        graph.url = base
        yield graph
