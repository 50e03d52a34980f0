"""Device API keys: ordinary core API keys (scope ``devices:upload``, bound to platform ``devices``),
so revocation, last use, rate limits and audit come from the core."""

from __future__ import annotations

import uuid
from datetime import datetime

from core import Gateway, create_api_key, revoke_api_key, rotate_api_key

SCOPE = "devices:upload"
PLATFORM = "devices"


def _key_name(serial: str) -> str:
    return f"device:{serial}"


async def create_device_key(gateway: Gateway, serial: str, created_by: uuid.UUID | None) -> tuple[uuid.UUID, str]:
    """A new key for a device: ``(key id, key)``; the key is shown once and stored as a hash."""
    return await create_api_key(gateway, _key_name(serial), [SCOPE], platform=PLATFORM, created_by=created_by)


async def revoke_device_key(gateway: Gateway, key_id: uuid.UUID) -> None:
    """Refuse the key from the next request on (a key revoked already is left as it is)."""
    await revoke_api_key(gateway, key_id)


async def rotate_device_key(
    gateway: Gateway, key_id: uuid.UUID, grace_seconds: int, created_by: uuid.UUID | None
) -> tuple[uuid.UUID, str, datetime | None]:
    """A new key replacing ``key_id``: ``(new id, new key, when the old one stops)``."""
    return await rotate_api_key(gateway, key_id, grace_seconds=grace_seconds, created_by=created_by)
