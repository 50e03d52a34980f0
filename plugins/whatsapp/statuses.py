"""What became of each sent message: Meta's statuses applied by ``wamid``.

Statuses arrive out of order, twice, and sometimes before the send's own answer has been
recorded, so every write is one upsert that only moves forward: a status never replaces
one further along (``read`` stays ``read`` when a late ``delivered`` comes), ``failed`` is
final and keeps its errors, and each status's first timestamp is kept.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from core import StandardMessage, mask_phone
from plugins.whatsapp.models import outbound

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger("switchboard.whatsapp")

RANKS = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "played": 4, "failed": 9}
# Facts that the newest report knows best, and facts that the first report fixed.
_NEWEST = ("errors", "conversation", "pricing")
_FIRST = ("message_id", "delivery_id", "recipient", "phone_number_id", "callback_data")


async def upsert(conn: AsyncConnection, wamid: str, status: str, at: datetime, **facts: Any) -> None:
    """Record that message ``wamid`` reached ``status`` at ``at``, with whatever else is known.

    ``facts`` are columns of ``whatsapp_outbound`` (``message_id``, ``errors``, ``pricing``, …);
    ``None`` values are ignored.
    """
    now = datetime.now(UTC)
    row: dict[str, Any] = {
        "wamid": wamid,
        "status": status,
        "status_rank": RANKS[status],
        f"{status}_at": at,
        "created_at": now,
        "updated_at": now,
        **{k: v for k, v in facts.items() if v is not None},
    }
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(outbound).values(row)
    new, old = insert.excluded, outbound.c
    ahead = old.status_rank < new.status_rank
    changes: dict[str, Any] = {
        "status": sa.case((ahead, new.status), else_=old.status),
        "status_rank": sa.case((ahead, new.status_rank), else_=old.status_rank),
        "updated_at": new.updated_at,
        f"{status}_at": sa.func.coalesce(old[f"{status}_at"], new[f"{status}_at"]),
    }
    changes |= {k: sa.func.coalesce(new[k], old[k]) for k in _NEWEST if k in row}
    changes |= {k: sa.func.coalesce(old[k], new[k]) for k in _FIRST if k in row}
    await conn.execute(insert.on_conflict_do_update(index_elements=[old.wamid], set_=changes))


async def apply_status(conn: AsyncConnection, message: StandardMessage) -> bool:
    """Apply a stored ``kind="status"`` message to its sent message; ``False`` if it is not one we track."""
    status = (message.extra.get("whatsapp") or {}).get("status") or {}
    name, wamid = status.get("status"), status.get("id")
    if name not in RANKS or name == "accepted" or not isinstance(wamid, str):
        log.info("WhatsApp status %r for %s is not tracked", name, wamid)
        return False
    callback = status.get("biz_opaque_callback_data")
    await upsert(
        conn,
        wamid,
        name,
        message.timestamp,
        recipient=status.get("recipient_id"),
        errors=status.get("errors"),
        conversation=status.get("conversation"),
        pricing=status.get("pricing"),
        callback_data=callback[:512] if isinstance(callback, str) else None,
    )
    if name == "failed":
        codes = [e.get("code") for e in status.get("errors") or [] if isinstance(e, dict)]
        log.warning("WhatsApp message %s to %s failed: %s", wamid, mask_phone(message.recipient), codes)
    return True


async def wamid_for_callback(conn: AsyncConnection, callback_data: str) -> str | None:
    """The message a status tagged with ``callback_data`` reported, if one has arrived."""
    return (
        await conn.execute(sa.select(outbound.c.wamid).where(outbound.c.callback_data == callback_data).limit(1))
    ).scalar_one_or_none()


async def tracking_of(conn: AsyncConnection, message_id: uuid.UUID) -> dict[str, Any] | None:
    """The tracking row of a sent core message, JSON-ready."""
    row = (await conn.execute(sa.select(outbound).where(outbound.c.message_id == message_id))).mappings().first()
    if row is None:
        return None
    return {
        k: (v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v)
        for k, v in row.items()
        if k != "status_rank"
    }
