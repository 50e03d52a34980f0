"""What the e-mail plugin erases and exports of a person (docs/privacy.md): the threads of their
correspondence (their address, the subject line, the Message-IDs a reply references)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from core import Gateway
from plugins.email.models import message_ids, threads


async def erase_participant(gateway: Gateway, participant: str) -> dict[str, int]:
    match = gateway.privacy.match
    async with gateway.db.transaction() as conn:
        keys = list(
            (await conn.execute(sa.select(threads.c.key).where(match(threads.c.reply_to, participant)))).scalars()
        )
        if not keys:
            return {"email_threads": 0, "email_message_ids": 0}
        ids = await conn.execute(sa.delete(message_ids).where(message_ids.c.thread_key.in_(keys)))
        gone = await conn.execute(sa.delete(threads).where(threads.c.key.in_(keys)))
    return {"email_threads": int(gone.rowcount or 0), "email_message_ids": int(ids.rowcount or 0)}


async def export_participant(gateway: Gateway, participant: str) -> dict[str, list[dict[str, Any]]]:
    match = gateway.privacy.match
    columns = [threads.c.reply_to, threads.c.subject, threads.c.updated_at]
    async with gateway.db.transaction() as conn:
        rows = await conn.execute(sa.select(*columns).where(match(threads.c.reply_to, participant)))
        return {"email_threads": [dict(r._mapping) for r in rows]}
