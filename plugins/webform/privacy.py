"""What the web-form plugin erases and exports of a person (docs/privacy.md): the one-time codes sent
to their e-mail address and the count of codes sent to it. Submissions are core messages."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from core import Gateway
from plugins.webform.models import send_counts, verifications


async def erase_participant(gateway: Gateway, participant: str) -> dict[str, int]:
    match = gateway.privacy.match
    async with gateway.db.transaction() as conn:
        codes = await conn.execute(sa.delete(verifications).where(match(verifications.c.email, participant)))
        sends = await conn.execute(sa.delete(send_counts).where(match(send_counts.c.email, participant)))
    return {"webform_verifications": int(codes.rowcount or 0), "webform_send_counts": int(sends.rowcount or 0)}


async def export_participant(gateway: Gateway, participant: str) -> dict[str, list[dict[str, Any]]]:
    match = gateway.privacy.match
    columns = [verifications.c.email, verifications.c.organisation, verifications.c.created_at, verifications.c.consumed_at]
    async with gateway.db.transaction() as conn:
        rows = await conn.execute(sa.select(*columns).where(match(verifications.c.email, participant)))
        return {"webform_verifications": [dict(r._mapping) for r in rows]}
