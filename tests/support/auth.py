"""Users with real passwords, and logging in as them."""

from __future__ import annotations

from typing import Any

from core.auth.users import create_user
from core.gateway import Gateway
from core.testing import GatewayClient

PASSWORD = "plum-Orchard-42-kettle"
NEW_PASSWORD = "violet-Harbour-17-lantern"


async def make_user(
    gateway: Gateway, username: str, role: str = "viewer", password: str = PASSWORD, **options: Any
) -> Any:
    return await create_user(gateway, username, password, role, **options)


async def login(client: GatewayClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    """Log in; asserts success and returns the token answer."""
    r = await client.post("/api/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def bearer(tokens: dict[str, Any] | str) -> dict[str, str]:
    token = tokens if isinstance(tokens, str) else tokens["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def audit_rows(gateway: Gateway, kind: str = "auth") -> list[Any]:
    """The audit rows of ``kind`` written so far (the queue is flushed first)."""
    import sqlalchemy as sa

    from core.storage.models import audit_log

    await gateway.audit.flush()
    async with gateway.db.transaction() as conn:
        return list(
            (await conn.execute(sa.select(audit_log).where(audit_log.c.kind == kind).order_by(audit_log.c.id))).all()
        )
