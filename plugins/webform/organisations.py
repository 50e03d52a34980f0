"""Organisations: those of ``[plugins.webform.organisations]`` and those added through the API.

Config organisations are read-only through the API (changing one is a change to config.toml);
an API organisation may not take a config organisation's slug.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from core import Conflict, Gateway, NotFound
from plugins.webform.models import organisations
from plugins.webform.settings import Organisation, WebformSettings

NAME = "webform"


@dataclass(frozen=True, slots=True)
class Org:
    """An organisation, wherever it is defined."""

    slug: str
    name: str
    origins: tuple[str, ...]
    notify: tuple[str, ...]
    source: str  # "config" | "api"

    def to_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "name": self.name,
            "origins": list(self.origins),
            "notify": list(self.notify),
            "source": self.source,
        }


def settings_of(gateway: Gateway) -> WebformSettings:
    config: WebformSettings = gateway.plugin_config(NAME)
    return config


def _from_config(slug: str, org: Organisation) -> Org:
    return Org(slug, org.name, tuple(org.origins), tuple(org.notify), "config")


def _from_row(row: Any) -> Org:
    return Org(row.slug, row.name, tuple(row.origins or ()), tuple(row.notify or ()), "api")


async def find(gateway: Gateway, slug: str) -> Org | None:
    """The organisation ``slug``, or None."""
    configured = settings_of(gateway).organisations.get(slug)
    if configured is not None:
        return _from_config(slug, configured)
    async with gateway.db.transaction() as conn:
        row = (await conn.execute(sa.select(organisations).where(organisations.c.slug == slug))).first()
    return _from_row(row) if row is not None else None


async def all_organisations(gateway: Gateway) -> list[Org]:
    """Every organisation, config ones first, each list by slug."""
    config = [_from_config(slug, org) for slug, org in sorted(settings_of(gateway).organisations.items())]
    async with gateway.db.transaction() as conn:
        rows = (await conn.execute(sa.select(organisations).order_by(organisations.c.slug))).all()
    return config + [_from_row(r) for r in rows]


async def all_origins(gateway: Gateway) -> set[str]:
    """The origins of every organisation (what a CORS preflight may be answered for)."""
    return {origin for org in await all_organisations(gateway) for origin in org.origins}


def _refuse_config(gateway: Gateway, slug: str) -> None:
    if slug in settings_of(gateway).organisations:
        raise Conflict(f"organisation {slug!r} is defined in config.toml and is read-only here")


async def create(gateway: Gateway, slug: str, org: Organisation) -> Org:
    """Add an organisation; 409 when the slug is taken (in config.toml or the database)."""
    _refuse_config(gateway, slug)
    now = datetime.now(UTC)
    async with gateway.db.transaction() as conn:
        taken = (await conn.execute(sa.select(organisations.c.slug).where(organisations.c.slug == slug))).first()
        if taken is not None:
            raise Conflict(f"organisation {slug!r} exists")
        try:
            await conn.execute(
                organisations.insert().values(
                    slug=slug, name=org.name, origins=org.origins, notify=org.notify, created_at=now, updated_at=now
                )
            )
        except sa.exc.IntegrityError as err:  # created by another request at the same moment
            raise Conflict(f"organisation {slug!r} exists") from err
    return Org(slug, org.name, tuple(org.origins), tuple(org.notify), "api")


async def replace(gateway: Gateway, slug: str, org: Organisation) -> Org:
    """Change an API organisation; 409 for a config one, 404 for an unknown one."""
    _refuse_config(gateway, slug)
    async with gateway.db.transaction() as conn:
        result = await conn.execute(
            organisations.update()
            .where(organisations.c.slug == slug)
            .values(name=org.name, origins=org.origins, notify=org.notify, updated_at=datetime.now(UTC))
        )
    if result.rowcount == 0:
        raise NotFound(f"no organisation {slug!r}")
    return Org(slug, org.name, tuple(org.origins), tuple(org.notify), "api")


async def delete(gateway: Gateway, slug: str) -> None:
    """Remove an API organisation; 409 for a config one, 404 for an unknown one."""
    _refuse_config(gateway, slug)
    async with gateway.db.transaction() as conn:
        result = await conn.execute(organisations.delete().where(organisations.c.slug == slug))
    if result.rowcount == 0:
        raise NotFound(f"no organisation {slug!r}")
