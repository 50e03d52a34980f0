"""What the DHIS2 plugin erases of a person (docs/privacy.md): the request bodies of submissions made
from their messages (a tracker submission carries a person's attributes). The rows stay."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa

from core import Gateway, among
from plugins.dhis2.models import dhis2gw_submissions as submissions


async def erase_messages(gateway: Gateway, message_ids: Sequence[uuid.UUID]) -> dict[str, int]:
    async with gateway.db.transaction() as conn:
        rows = await conn.execute(
            sa.select(submissions.c.id, submissions.c.request, submissions.c.errors).where(
                among(submissions.c.message_id, message_ids)
            )
        )
        # Erasing again finds them already empty and counts nothing.
        ids = [r.id for r in rows if r.request != {} or r.errors is not None]
        if ids:
            await conn.execute(sa.update(submissions).where(among(submissions.c.id, ids)).values(request={}, errors=None))
    return {"dhis2gw_submissions": len(ids)}
