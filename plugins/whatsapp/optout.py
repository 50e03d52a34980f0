"""Opt-out: the keywords that stop and restart messages to a contact, and the record of it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from core import StandardMessage
from plugins.whatsapp.models import contacts

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from core import Privacy
    from plugins.whatsapp.settings import OptOutSettings

Choice = Literal["out", "in"]
# "Stop.", " STOP! ", "stop 🛑" all mean STOP; "please don't stop" does not.
_NOISE = re.compile(r"[^\w]+", re.UNICODE)


@dataclass(frozen=True)
class OptOutState:
    wa_id: str
    opted_out: bool
    opted_out_at: datetime | None
    opted_in_at: datetime | None
    keyword: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "wa_id": self.wa_id,
            "opted_out": self.opted_out,
            "opted_out_at": self.opted_out_at.isoformat() if self.opted_out_at else None,
            "opted_in_at": self.opted_in_at.isoformat() if self.opted_in_at else None,
            "keyword": self.keyword,
        }


def _normalise(text: str) -> str:
    return _NOISE.sub(" ", text).strip().casefold()


def keyword_choice(message: StandardMessage, settings: OptOutSettings) -> Choice | None:
    """``"out"`` or ``"in"`` when the whole message is an opt-out or opt-in keyword.

    A text counts, and so does a quick-reply button (a template's "Stop promotions"), by its
    title or payload.
    """
    if not settings.enabled or message.direction != "in" or not message.sender:
        return None
    said: list[str] = []
    if message.kind == "text" and message.text:
        said.append(message.text)
    elif message.kind == "interactive":
        reply = (message.extra.get("whatsapp") or {}).get("reply") or {}
        said += [v for v in (reply.get("title"), reply.get("id")) if isinstance(v, str)]
    words = {_normalise(s) for s in said} - {""}
    if words & {_normalise(k) for k in settings.keywords}:
        return "out"
    if words & {_normalise(k) for k in settings.opt_in_keywords}:
        return "in"
    return None


async def record_choice(conn: AsyncConnection, wa_id: str, choice: Choice, keyword: str, at: datetime) -> bool:
    """Mark ``wa_id`` opted out (or back in) as of ``at``; ``False`` if a later choice stands.

    Keywords are applied in the order the contact sent them, not the order they are
    processed in (two webhooks' hooks may run side by side): STOP then START ends opted in.
    """
    opted_out = choice == "out"
    row = {
        "wa_id": wa_id,
        "opted_out": opted_out,
        "keyword": keyword[:64],
        "updated_at": at,
        "opted_out_at" if opted_out else "opted_in_at": at,
    }
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(contacts).values(row)
    changes = {k: insert.excluded[k] for k in row if k != "wa_id"}
    result = await conn.execute(
        insert.on_conflict_do_update(
            index_elements=[contacts.c.wa_id], set_=changes, where=contacts.c.updated_at <= insert.excluded.updated_at
        )
    )
    return bool(result.rowcount)


async def states(conn: AsyncConnection, privacy: Privacy, wa_ids: Iterable[str]) -> dict[str, OptOutState]:
    """The recorded state of each of ``wa_ids`` that has one (numbers are stored sealed with a
    [privacy] key: each one's stored forms are looked up, every key's during a rotation)."""
    ids = list(set(wa_ids))
    if not ids:
        return {}
    rows = await conn.execute(sa.select(contacts).where(sa.or_(*(privacy.match(contacts.c.wa_id, i) for i in ids))))
    return {r.wa_id: OptOutState(r.wa_id, bool(r.opted_out), r.opted_out_at, r.opted_in_at, r.keyword) for r in rows}


async def opted_out(conn: AsyncConnection, privacy: Privacy, wa_id: str) -> OptOutState | None:
    """The contact's state if it has opted out, else ``None``."""
    state = (await states(conn, privacy, [wa_id])).get(wa_id)
    return state if state is not None and state.opted_out else None
