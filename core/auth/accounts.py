"""Creating users and API keys (used by the API, the CLI and tests)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.auth.credentials import hash_secret, new_api_key
from core.auth.permissions import ROLES
from core.storage.ids import uuid7
from core.storage.models import api_keys, users

if TYPE_CHECKING:
    from core.gateway import Gateway


async def insert_user(
    gateway: Gateway,
    username: str,
    role: str,
    password_hash: str,
    *,
    status: str = "active",
    full_name: str | None = None,
    email: str | None = None,
    must_change_password: bool = False,
) -> uuid.UUID:
    """Insert a user row as given (no policy: see ``users.create_user``); returns its id."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    now = datetime.now(UTC)
    user_id = uuid7()
    async with gateway.db.transaction() as conn:
        await conn.execute(
            users.insert().values(
                id=user_id,
                username=username.strip().lower(),
                password_hash=password_hash,
                role=role,
                status=status,
                full_name=full_name,
                email=email,
                must_change_password=must_change_password,
                created_at=now,
                updated_at=now,
                password_changed_at=now,
            )
        )
    return user_id


async def insert_api_key(
    gateway: Gateway,
    name: str,
    scopes: Iterable[str],
    *,
    platform: str | None = None,
    created_by: uuid.UUID | None = None,
    expires_at: datetime | None = None,
) -> tuple[uuid.UUID, str]:
    """Create a key; returns ``(id, key)``. The key itself is never stored."""
    key, prefix = new_api_key()
    key_id = uuid7()
    async with gateway.db.transaction() as conn:
        await conn.execute(
            api_keys.insert().values(
                id=key_id,
                name=name,
                prefix=prefix,
                key_hash=hash_secret(key),
                scopes=sorted(set(scopes)),
                platform=platform,
                created_by=created_by,
                created_at=datetime.now(UTC),
                expires_at=expires_at,
            )
        )
    return key_id, key
