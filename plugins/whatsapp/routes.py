"""``/plugins/whatsapp/…``: what became of a sent message, downloaded media, opt-out state."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core import BadRequest, NotFound, describe, gateway_of, path_uuid, read_json, requires
from plugins.whatsapp import optout, statuses
from plugins.whatsapp.media import read_file
from plugins.whatsapp.models import media


def _message_id(request: Request) -> uuid.UUID:
    return path_uuid(request, "message_id", "message")


def _media_row(row: sa.Row[tuple[object, ...]]) -> dict[str, object]:
    return {
        "media_id": row.media_id,
        "status": row.status,
        "attempts": row.attempts,
        "mime_type": row.mime_type,
        "size": row.size,
        "sha256": row.sha256,
        "error": row.error,
        "stored_at": row.stored_at.isoformat() if row.stored_at else None,
    }


@requires("content.read", scopes=["whatsapp:read"])
async def message_tracking(request: Request) -> Response:
    """WhatsApp details of a stored message: the send's wamid and statuses, and its media files."""
    message_id = _message_id(request)
    async with gateway_of(request).db.transaction() as conn:
        tracking = await statuses.tracking_of(conn, message_id)
        files = (await conn.execute(sa.select(media).where(media.c.message_id == message_id))).all()
    if tracking is None and not files:
        raise NotFound("no WhatsApp send or media is recorded for this message")
    return JSONResponse({"message_id": str(message_id), "send": tracking, "media": [_media_row(r) for r in files]})


@requires("content.read", scopes=["whatsapp:read"])
async def media_file(request: Request) -> Response:
    """Download a stored media file of a message (as an attachment, never rendered inline)."""
    message_id = _message_id(request)
    async with gateway_of(request).db.transaction() as conn:
        row = (
            await conn.execute(
                sa.select(media.c.path, media.c.mime_type, media.c.media_id).where(
                    media.c.message_id == message_id,
                    media.c.media_id == request.path_params["media_id"],
                    media.c.status == "stored",
                )
            )
        ).first()
    if row is None or not row.path or not await asyncio.to_thread(Path(row.path).is_file):
        raise NotFound("this media file is not stored")
    gateway = gateway_of(request)
    if gateway.privacy.enabled:
        # Sealed at rest ([privacy] key): opened here, sent as an attachment all the same.
        body = await asyncio.to_thread(read_file, gateway, Path(row.path))
        return Response(
            body,
            media_type=row.mime_type or "application/octet-stream",
            headers={
                "Content-Disposition": f'attachment; filename="{Path(row.path).name}"',
                "X-Content-Type-Options": "nosniff",
            },
        )
    return FileResponse(
        row.path,
        media_type=row.mime_type or "application/octet-stream",
        filename=Path(row.path).name,
        content_disposition_type="attachment",
        headers={"X-Content-Type-Options": "nosniff"},
    )


class ContactChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opted_out: bool


@requires("content.read", scopes=["whatsapp:read"])
async def contact(request: Request) -> Response:
    """A contact's opt-out state."""
    wa_id = request.path_params["wa_id"]
    gateway = gateway_of(request)
    async with gateway.db.transaction() as conn:
        state = (await optout.states(conn, gateway.privacy, [wa_id])).get(wa_id)
    if state is None:
        return JSONResponse({"wa_id": wa_id, "opted_out": False, "opted_out_at": None, "opted_in_at": None})
    return JSONResponse(state.as_dict())


@requires("whatsapp.contacts", scopes=["whatsapp:contacts"])
@describe(body=ContactChange)
async def change_contact(request: Request) -> Response:
    """Record an opt-out (or opt-in) the contact asked for elsewhere, e.g. on a call."""
    wa_id = request.path_params["wa_id"]
    if not wa_id.isdigit() or len(wa_id) > 20:
        raise BadRequest("not a WhatsApp id", errors=[{"field": "wa_id", "message": "expected digits"}])
    change = await read_json(request, ContactChange)
    principal = request.state.principal
    gateway = gateway_of(request)
    async with gateway.db.transaction() as conn:
        await optout.record_choice(
            conn, wa_id, "out" if change.opted_out else "in", f"({principal.label})", datetime.now(UTC)
        )
        state = (await optout.states(conn, gateway.privacy, [wa_id]))[wa_id]
    return JSONResponse(state.as_dict())


def whatsapp_routes() -> list[BaseRoute]:
    return [
        Route("/messages/{message_id}", message_tracking, methods=["GET"]),
        Route("/messages/{message_id}/media/{media_id}", media_file, methods=["GET"]),
        Route("/contacts/{wa_id}", contact, methods=["GET"]),
        Route("/contacts/{wa_id}", change_contact, methods=["PUT"]),
    ]
