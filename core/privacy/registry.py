"""Which data keys have sealed personal data (the ``privacy_keys`` table).

At start (``check_keys``): every key still in use must be configured, as ``[privacy] key`` or in
``previous_keys``; otherwise the gateway refuses to start with one line naming the setting,
rather than answering requests with values it cannot open. The current key is recorded when it
is first used. ``privacy rotate-key`` retires the keys it has replaced (``retire_others``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from core.errors import ConfigError
from core.storage.models import privacy_keys

if TYPE_CHECKING:
    from core.storage.db import Database


async def _has_table(db: Database) -> bool:
    async with db.engine.connect() as conn:
        return bool(await conn.run_sync(lambda c: sa.inspect(c).has_table("privacy_keys")))


async def keys_in_use(db: Database) -> list[str]:
    """The ids of the keys that may still have sealed data (not retired by a rotation)."""
    async with db.transaction() as conn:
        rows = await conn.execute(
            sa.select(privacy_keys.c.key_id).where(privacy_keys.c.retired_at.is_(None)).order_by(privacy_keys.c.key_id)
        )
        return [r.key_id for r in rows]


async def check_keys(db: Database) -> bool:
    """Refuse (``ConfigError``) a key set that cannot open what is stored; record the current key.

    False when the database is not migrated yet (nothing can have been sealed, and there is no
    table to record the key in): ask again once it is.
    """
    if not await _has_table(db):
        return False
    keyring = db.privacy.keyring
    in_use = await keys_in_use(db)
    if keyring is None:
        if in_use:
            raise ConfigError(
                f"[privacy] key: not set, but personal data is sealed with key id {', '.join(in_use)}; "
                "set the key it was sealed with (docs/privacy.md)"
            )
        return True
    missing = [kid for kid in in_use if kid not in keyring.keys]
    if missing:
        raise ConfigError(
            f"[privacy] key: personal data is sealed with key id {', '.join(missing)}, which is neither the key "
            "nor one of previous_keys (a wrong key? keep the old one in previous_keys until "
            "`switchboard privacy rotate-key` has run)"
        )
    if keyring.current.id not in in_use:
        now = datetime.now(UTC)
        async with db.transaction() as conn:
            updated = await conn.execute(
                sa.update(privacy_keys).where(privacy_keys.c.key_id == keyring.current.id).values(retired_at=None)
            )
            if not updated.rowcount:
                await conn.execute(sa.insert(privacy_keys).values(key_id=keyring.current.id, first_used_at=now))
    return True


async def retire_others(db: Database) -> list[str]:
    """Mark every key but the current one retired (after a rotation re-sealed everything)."""
    keyring = db.privacy.keyring
    current = keyring.current.id if keyring is not None else ""
    async with db.transaction() as conn:
        rows = await conn.execute(
            sa.update(privacy_keys)
            .where(privacy_keys.c.key_id != current, privacy_keys.c.retired_at.is_(None))
            .values(retired_at=datetime.now(UTC))
            .returning(privacy_keys.c.key_id)
        )
        return sorted(r.key_id for r in rows)
