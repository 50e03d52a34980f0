"""What the WhatsApp plugin erases and exports of a person (docs/privacy.md): media files and their
rows, the recipient of replies sent, the opt-out record."""

from __future__ import annotations

import asyncio
import functools
import mimetypes
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from core import ExportFile, Gateway, among
from plugins.whatsapp.media import read_file
from plugins.whatsapp.models import contacts, media, outbound


async def erase_messages(gateway: Gateway, message_ids: Sequence[uuid.UUID]) -> dict[str, int]:
    """Remove the media files of these messages (rows kept, without path or digest); forget replies' recipients."""
    async with gateway.db.transaction() as conn:
        files = list(
            await conn.execute(
                sa.select(media.c.id, media.c.path).where(
                    among(media.c.message_id, message_ids), media.c.path.is_not(None)
                )
            )
        )
        if files:
            await conn.execute(
                sa.update(media).where(media.c.id.in_([f.id for f in files])).values(path=None, sha256=None, error=None)
            )
        paths = [Path(f.path) for f in files]
        replies = await conn.execute(
            sa.update(outbound)
            .where(
                among(outbound.c.message_id, message_ids),
                sa.or_(outbound.c.recipient.is_not(None), outbound.c.callback_data.is_not(None)),
            )
            .values(recipient=None, callback_data=None, errors=None)
        )
    for path in paths:
        await asyncio.to_thread(path.unlink, missing_ok=True)
    return {"whatsapp_media": len(files), "whatsapp_outbound": int(replies.rowcount or 0)}


async def erase_participant(gateway: Gateway, participant: str) -> dict[str, int]:
    """Forget the person's opt-out record and the replies sent to them."""
    match = gateway.privacy.match
    async with gateway.db.transaction() as conn:
        gone = await conn.execute(sa.delete(contacts).where(match(contacts.c.wa_id, participant)))
        replies = await conn.execute(
            sa.update(outbound)
            .where(match(outbound.c.recipient, participant))
            .values(recipient=None, callback_data=None, errors=None)
        )
    return {"whatsapp_contacts": int(gone.rowcount or 0), "whatsapp_outbound": int(replies.rowcount or 0)}


async def export_participant(
    gateway: Gateway, participant: str, message_ids: Sequence[uuid.UUID]
) -> dict[str, list[dict[str, Any]]]:
    match = gateway.privacy.match
    async with gateway.db.transaction() as conn:
        found = [
            dict(r._mapping)
            for r in await conn.execute(sa.select(contacts).where(match(contacts.c.wa_id, participant)))
        ]
        files = [
            dict(r._mapping)
            for r in await conn.execute(
                sa.select(
                    media.c.message_id, media.c.media_id, media.c.mime_type, media.c.size, media.c.stored_at
                ).where(among(media.c.message_id, message_ids))
            )
        ]
    return {"whatsapp_contacts": found, "whatsapp_media": files}


async def export_files(gateway: Gateway, message_ids: Sequence[uuid.UUID]) -> list[ExportFile]:
    """The stored media files of the person's messages, as their export's archive has them
    (``whatsapp/<message id>-<media id>.<extension>``, opened when sealed)."""
    async with gateway.db.transaction() as conn:
        rows = (
            await conn.execute(
                sa.select(media.c.message_id, media.c.media_id, media.c.mime_type, media.c.path).where(
                    among(media.c.message_id, message_ids), media.c.status == "stored"
                )
            )
        ).all()
    files = []
    for row in rows:
        path = Path(row.path) if row.path else None
        if path is None or not await asyncio.to_thread(path.is_file):
            continue  # its row says stored, its file is gone: nothing to hand over
        extension = mimetypes.guess_extension((row.mime_type or "").split(";")[0].strip()) or path.suffix
        files.append(
            ExportFile(
                f"whatsapp/{row.message_id}-{row.media_id}{extension}", functools.partial(read_file, gateway, path)
            )
        )
    return files
