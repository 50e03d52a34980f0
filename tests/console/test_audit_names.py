"""The console writes the audit events the API writes, under the same names (core.auth.events)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.auth.events import AUTH_EVENTS
from core.auth.users import create_user, find_user
from core.storage.models import audit_log
from core.testing import GatewayClient
from tests.console.conftest import PASSWORD, log_in


async def actions(gw: GatewayClient) -> list[str]:
    await gw.gateway.audit.flush()
    async with gw.gateway.db.transaction() as conn:
        query = sa.select(audit_log.c.action).where(audit_log.c.kind == "auth").order_by(audit_log.c.id)
        return [a for a in (await conn.execute(query)).scalars() if a not in ("login", "logout")]


@pytest.mark.parametrize(
    ("action", "fields", "expected"),
    [
        ("approve", {}, ["user_approved"]),
        ("approve", {"role": "operator"}, ["user_approved", "role_changed"]),
        ("reject", {}, ["user_rejected"]),
    ],
)
async def test_deciding_a_signup_writes_the_apis_event_names(
    gw: GatewayClient, action: str, fields: dict[str, str], expected: list[str]
) -> None:
    await create_user(gw.gateway, "newcomer", PASSWORD, "viewer", status="pending")
    newcomer = await find_user(gw.gateway, "newcomer")
    assert newcomer is not None
    token = await log_in(gw, "admin")
    r = await gw.post(f"/admin/users/{newcomer.id}", data={"csrf_token": token, "action": action, **fields})
    assert r.status_code == 303
    assert await actions(gw) == expected
    if fields:
        assert (await find_user(gw.gateway, "newcomer")).role == "operator"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("action", "fields", "expected"),
    [
        ("reset", {}, ["password_reset"]),
        ("deactivate", {}, ["user_deactivated"]),
        ("role", {"role": "operator"}, ["role_changed"]),
    ],
)
async def test_changing_a_user_writes_the_apis_event_names(
    gw: GatewayClient, action: str, fields: dict[str, str], expected: list[str]
) -> None:
    viewer = await find_user(gw.gateway, "viewer")
    assert viewer is not None
    token = await log_in(gw, "admin")
    r = await gw.post(f"/admin/users/{viewer.id}", data={"csrf_token": token, "action": action, **fields})
    assert r.status_code == 303
    written = await actions(gw)
    assert written == expected and set(written) <= AUTH_EVENTS


async def test_approving_a_user_who_is_not_pending_is_refused_and_writes_nothing(gw: GatewayClient) -> None:
    viewer = await find_user(gw.gateway, "viewer")
    assert viewer is not None
    token = await log_in(gw, "admin")
    r = await gw.post(f"/admin/users/{viewer.id}", data={"csrf_token": token, "action": "approve"})
    assert r.status_code == 409 and await actions(gw) == []
