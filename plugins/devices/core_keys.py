"""Device API keys, through the core's internal key functions.

INTERNAL CORE API: this module is the only place the plugin reaches past ``core/__init__.py``.
Device keys must be ordinary core API keys (table ``api_keys``) so that revocation, last use,
rate limits and audit come from the core, and the public API has no way to create, revoke
or rotate one yet. The functions used here, ``core.auth.api_keys.create_key``,
``revoke_key`` and ``rotate_key``, are to be made public; then only this module changes.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from core import Conflict, Gateway
from core.auth.api_keys import create_key, revoke_key, rotate_key

SCOPE = "devices:upload"
PLATFORM = "devices"


def _key_name(serial: str) -> str:
    return f"device:{serial}"


async def create_device_key(gateway: Gateway, serial: str, created_by: uuid.UUID | None) -> tuple[uuid.UUID, str]:
    """A new key for a device: ``(key id, key)``; the key is shown once and stored as a hash."""
    row, key = await create_key(gateway, _key_name(serial), [SCOPE], platform=PLATFORM, created_by=created_by)
    return row.id, key


async def revoke_device_key(gateway: Gateway, key_id: uuid.UUID) -> None:
    """Refuse the key from the next request on (a key revoked already is left as it is)."""
    try:
        await revoke_key(gateway, key_id)
    except Conflict:
        return


async def rotate_device_key(
    gateway: Gateway, key_id: uuid.UUID, grace_seconds: int, created_by: uuid.UUID | None
) -> tuple[uuid.UUID, str, datetime | None]:
    """A new key replacing ``key_id``: ``(new id, new key, when the old one stops)``."""
    old, new, key = await rotate_key(gateway, key_id, grace_seconds=grace_seconds, created_by=created_by)
    stops: datetime | None = old.revoked_at or old.expires_at
    return new.id, key, stops
