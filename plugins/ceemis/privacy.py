"""What the CEEMIS plugin erases and exports of a person (docs/privacy.md): the case form kept with each
case of their messages (its states and the CEEMIS case id stay)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from core import Gateway, among
from plugins.ceemis.models import cases


async def erase_messages(gateway: Gateway, message_ids: Sequence[uuid.UUID]) -> dict[str, int]:
    async with gateway.db.transaction() as conn:
        result = await conn.execute(
            sa.update(cases)
            .where(among(cases.c.message_id, message_ids), sa.or_(cases.c.form.is_not(None), cases.c.last_error.is_not(None)))
            .values(form=None, last_error=None)
        )
    return {"ceemis_cases": int(result.rowcount or 0)}


async def export_participant(gateway: Gateway, message_ids: Sequence[uuid.UUID]) -> dict[str, list[dict[str, Any]]]:
    columns = [cases.c.message_id, cases.c.ceemis_id, cases.c.state, cases.c.received_at, cases.c.form]
    async with gateway.db.transaction() as conn:
        rows = await conn.execute(sa.select(*columns).where(among(cases.c.message_id, message_ids)))
        return {"ceemis_cases": [dict(r._mapping) for r in rows]}
