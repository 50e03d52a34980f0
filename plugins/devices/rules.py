"""Alert rules: kept in the database, seeded from ``[plugins.devices] rules``, edited by admins."""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from core import Conflict, Gateway, NotFound
from plugins.devices.ids import new_id
from plugins.devices.models import rules
from plugins.devices.settings import RuleSettings

COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}


@dataclass(frozen=True, slots=True)
class Rule:
    """An enabled rule, as the upload path evaluates it."""

    id: uuid.UUID
    name: str
    metric: str
    field: str
    comparison: str
    value: float
    subject: str | None
    device_type: str | None
    severity: str

    def crossed(self, value: float) -> bool:
        return COMPARE[self.comparison](value, self.value)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metric": self.metric,
            "field": self.field,
            "comparison": self.comparison,
            "value": self.value,
            "severity": self.severity,
        }


def rule_view(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "metric": row.metric,
        "field": row.field,
        "comparison": row.comparison,
        "value": row.value,
        "subject": row.subject,
        "device_type": row.device_type,
        "severity": row.severity,
        "enabled": row.enabled,
        "source": row.source,
        "updated_at": row.updated_at.isoformat(),
    }


def _values(rule: RuleSettings) -> dict[str, Any]:
    return rule.model_dump()


async def seed_rules(gateway: Gateway, configured: list[RuleSettings]) -> None:
    """Add the rules of config that the database does not have yet (by name); edits made since are kept."""
    if not configured:
        return
    async with gateway.db.transaction() as conn:
        have = set(await conn.scalars(sa.select(rules.c.name)))
        now = datetime.now(UTC)
        missing = [
            _values(r) | {"id": new_id(), "source": "config", "created_at": now, "updated_at": now}
            for r in configured
            if r.name not in have
        ]
        if missing:
            try:
                await conn.execute(rules.insert(), missing)
            except sa.exc.IntegrityError:
                return  # another process seeded them at the same moment


async def enabled_rules(conn: AsyncConnection) -> list[Rule]:
    query = sa.select(
        rules.c.id,
        rules.c.name,
        rules.c.metric,
        rules.c.field,
        rules.c.comparison,
        rules.c.value,
        rules.c.subject,
        rules.c.device_type,
        rules.c.severity,
    ).where(rules.c.enabled.is_(True))
    return [Rule(*row) for row in await conn.execute(query)]


async def list_rules(gateway: Gateway) -> list[Any]:
    async with gateway.db.transaction() as conn:
        return list(await conn.execute(sa.select(rules).order_by(rules.c.name)))


async def get_rule(gateway: Gateway, rule_id: uuid.UUID) -> Any:
    async with gateway.db.transaction() as conn:
        row = (await conn.execute(sa.select(rules).where(rules.c.id == rule_id))).first()
    if row is None:
        raise NotFound("no such rule")
    return row


async def create_rule(gateway: Gateway, rule: RuleSettings) -> Any:
    now = datetime.now(UTC)
    rule_id = new_id()
    try:
        async with gateway.db.transaction() as conn:
            await conn.execute(
                rules.insert().values(**_values(rule), id=rule_id, source="api", created_at=now, updated_at=now)
            )
    except sa.exc.IntegrityError as err:
        raise Conflict(f"a rule named {rule.name!r} exists already") from err
    return await get_rule(gateway, rule_id)


async def replace_rule(gateway: Gateway, rule_id: uuid.UUID, rule: RuleSettings) -> Any:
    await get_rule(gateway, rule_id)
    try:
        async with gateway.db.transaction() as conn:
            await conn.execute(
                rules.update().where(rules.c.id == rule_id).values(**_values(rule), updated_at=datetime.now(UTC))
            )
    except sa.exc.IntegrityError as err:
        raise Conflict(f"a rule named {rule.name!r} exists already") from err
    return await get_rule(gateway, rule_id)


async def delete_rule(gateway: Gateway, rule_id: uuid.UUID) -> None:
    async with gateway.db.transaction() as conn:
        done = await conn.execute(rules.delete().where(rules.c.id == rule_id))
    if done.rowcount == 0:
        raise NotFound("no such rule")
