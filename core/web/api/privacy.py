"""``/api/privacy``: erase everything held about a person, or export it (admin only; docs/privacy.md)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from core.auth.permissions import requires
from core.errors import Forbidden, NotFound
from core.operations import erasure, subject_export
from core.web.api import answers as A
from core.web.openapi import describe
from core.web.requests import gateway_of, path_uuid, read_json


class ParticipantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A phone number, e-mail address or device subject, as it arrived.
    participant: str = Field(min_length=1, max_length=255)


def _export_id(request: Request) -> uuid.UUID:
    return path_uuid(request, "export_id", "export")


@requires("privacy.manage", scopes=["privacy:admin"])
@describe(body=ParticipantRequest, responses={200: A.ERASURE})
async def create_erasure(request: Request) -> Response:
    """Erase or anonymise every message, conversation, delivery body and plugin row of a person.

    Waiting deliveries of their messages are cancelled (reason ``erased``). The answer says what
    was erased, per table; erasing the same person again answers zeros.
    """
    body = await read_json(request, ParticipantRequest)
    result = await erasure.erase_participant(
        gateway_of(request), body.participant, request.state.principal, request=request
    )
    return JSONResponse(result)


@requires("privacy.manage", scopes=["privacy:admin"])
@describe(body=ParticipantRequest, status=202, responses={202: A.EXPORT})
async def create_export(request: Request) -> Response:
    """Start an export of everything held about a person; follow it at ``/api/privacy/exports/{id}``."""
    body = await read_json(request, ParticipantRequest)
    gateway = gateway_of(request)
    result = await subject_export.request_export(gateway, body.participant, request.state.principal, request=request)
    return JSONResponse(result, status_code=202, headers={"Location": f"/api/privacy/exports/{result['id']}"})


@requires("privacy.manage", scopes=["privacy:admin"])
@describe(responses={200: A.EXPORT})
async def get_export(request: Request) -> Response:
    """An export's status; once done, a signed download link valid for an hour (the file is kept a day)."""
    gateway = gateway_of(request)
    return JSONResponse(await subject_export.export_status(gateway, _export_id(request), str(request.base_url)))


# Public: whoever holds the link may download, as with the reports' links. The HMAC over the id
# and the expiry is the authentication, checked before the export is looked up.
@requires(public=True)
async def download_export(request: Request) -> Response:
    gateway = gateway_of(request)
    q = request.query_params
    try:
        export_id: uuid.UUID | None = _export_id(request)
    except NotFound:  # no link names a malformed id: refused as an altered link is
        export_id = None
    if export_id is None or not subject_export.link_is_valid(gateway, export_id, q.get("expires"), q.get("signature")):
        raise Forbidden("this download link is invalid or has expired")
    chunks, suffix = await subject_export.export_chunks(gateway, export_id)
    disposition = f'attachment; filename="participant-export-{export_id}{suffix}"'
    media_type = "application/zip" if suffix == ".zip" else "application/json"
    # Opened a chunk at a time as it is sent (Starlette iterates it in a thread).
    return StreamingResponse(chunks, media_type=media_type, headers={"Content-Disposition": disposition})


def privacy_routes() -> list[BaseRoute]:
    return [
        Route("/api/privacy/erasures", create_erasure, methods=["POST"]),
        Route("/api/privacy/exports", create_export, methods=["POST"]),
        Route("/api/privacy/exports/{export_id}", get_export, methods=["GET"]),
        Route("/api/privacy/exports/{export_id}/download", download_export, methods=["GET"]),
    ]
