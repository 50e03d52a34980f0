"""Alert rules: those of ``[plugins.devices] rules``, and those admins store (by name) through the API.

A stored rule of the same name replaces a rule of config; nothing is written at start-up, so a
gateway starts whatever state its database is in.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from core import Conflict, Gateway, NotFound, Unprocessable
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


def rule_view(row: Any, source: str | None = None) -> dict[str, Any]:
    """A rule as the API shows it; ``source``: ``config`` (as written there) or ``api`` (stored)."""
    return {
        "name": row.name,
        "metric": row.metric,
        "field": row.field,
        "comparison": row.comparison,
        "value": row.value,
        "subject": row.subject,
        "device_type": row.device_type,
        "severity": row.severity,
        "enabled": row.enabled,
        "source": source or row.source,
    }


def _values(rule: RuleSettings) -> dict[str, Any]:
    return rule.model_dump()


def _as_rule(row: Any) -> Rule:
    return Rule(row.name, row.metric, row.field, row.comparison, row.value, row.subject, row.device_type, row.severity)


async def effective_rules(conn: AsyncConnection, configured: list[RuleSettings]) -> list[Rule]:
    """The enabled rules: those stored (by admins), and those of config no stored rule of that name replaces."""
    stored = list(await conn.execute(sa.select(rules)))
    names = {row.name for row in stored}
    return [_as_rule(row) for row in stored if row.enabled] + [
        _as_rule(r) for r in configured if r.enabled and r.name not in names
    ]


async def list_rules(gateway: Gateway, configured: list[RuleSettings]) -> list[dict[str, Any]]:
    """Every rule by name: stored ones, and those of config not replaced."""
    async with gateway.db.transaction() as conn:
        stored = list(await conn.execute(sa.select(rules)))
    names = {row.name for row in stored}
    views = [rule_view(row) for row in stored] + [rule_view(r, "config") for r in configured if r.name not in names]
    return sorted(views, key=lambda v: v["name"])


async def create_rule(gateway: Gateway, rule: RuleSettings, configured: list[RuleSettings]) -> dict[str, Any]:
    """A new rule; 409 if one of that name exists (in config too: replace that one with PUT)."""
    if any(r.name == rule.name for r in configured):
        raise Conflict(f"a rule named {rule.name!r} is in config: change it with PUT /rules/{rule.name}")
    now = datetime.now(UTC)
    try:
        async with gateway.db.transaction() as conn:
            await conn.execute(rules.insert().values(**_values(rule), source="api", created_at=now, updated_at=now))
    except sa.exc.IntegrityError as err:
        raise Conflict(f"a rule named {rule.name!r} exists already") from err
    return rule_view(rule, "api")


async def put_rule(gateway: Gateway, name: str, rule: RuleSettings, configured: list[RuleSettings]) -> dict[str, Any]:
    """Store the rule under ``name``, replacing a stored one or one of config (which then no longer applies)."""
    if rule.name != name:
        raise Unprocessable(
            "invalid request body", errors=[{"field": "name", "message": "must be the name in the path"}]
        )
    now = datetime.now(UTC)
    async with gateway.db.transaction() as conn:
        done = await conn.execute(rules.update().where(rules.c.name == name).values(**_values(rule), updated_at=now))
        if done.rowcount == 0:
            if not any(r.name == name for r in configured):
                raise NotFound("no such rule")
            await conn.execute(rules.insert().values(**_values(rule), source="api", created_at=now, updated_at=now))
    return rule_view(rule, "api")


async def delete_rule(gateway: Gateway, name: str, configured: list[RuleSettings]) -> None:
    """Delete a stored rule (a rule of config it replaced applies again); a rule of config is disabled instead."""
    async with gateway.db.transaction() as conn:
        done = await conn.execute(rules.delete().where(rules.c.name == name))
    if done.rowcount == 0:
        if any(r.name == name for r in configured):
            raise Conflict(f"{name!r} is a rule of config: disable it (PUT with enabled false) or remove it there")
        raise NotFound("no such rule")
