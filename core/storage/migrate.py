"""Schema migrations (Alembic) for core and plugin tables.

Core revisions live in ``core/storage/migrations/versions``. A plugin ships its own in
``<plugin package>/migrations/versions``, on a branch labelled with its entry-point name
that ``depends_on`` the core's first revision; ``upgrade`` goes to every head.
"""

from __future__ import annotations

import asyncio
import functools
import io
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from core.config.settings import Settings
from core.plugins import PluginRegistry
from core.storage.db import Database
from core.storage.models import metadata as core_metadata

HERE = Path(__file__).parent / "migrations"
CORE_BASE = "0001_core"


def plugin_migration_dirs(registry: PluginRegistry) -> dict[str, Path]:
    dirs: dict[str, Path] = {}
    for name in registry.enabled:
        plugin = registry.pm.get_plugin(name)
        file = getattr(plugin, "__file__", None)
        if file:
            versions = Path(file).parent / "migrations" / "versions"
            if versions.is_dir():
                dirs[name] = versions
    return dirs


def alembic_config(settings: Settings, registry: PluginRegistry | None = None, stdout: Any = None) -> Config:
    registry = registry or PluginRegistry(settings)
    metadatas: list[MetaData] = [core_metadata, *registry.gather("switchboard_models")]
    cfg = Config(stdout=stdout or io.StringIO())
    cfg.set_main_option("script_location", str(HERE))
    locations = [HERE / "versions", *plugin_migration_dirs(registry).values()]
    cfg.set_main_option("path_separator", "newline")
    cfg.set_main_option("version_locations", "\n".join(str(p) for p in locations))
    cfg.attributes["settings"] = settings
    cfg.attributes["metadata"] = metadatas
    return cfg


def upgrade(settings: Settings, revision: str = "heads") -> None:
    """Apply migrations. Callable from async code too (Alembic runs in its own thread then)."""
    cfg = alembic_config(settings)
    if _loop_running():
        _in_thread(lambda: command.upgrade(cfg, revision))
    else:
        command.upgrade(cfg, revision)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _in_thread(fn: Any) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(err)

    thread = threading.Thread(target=run, name="alembic")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def current(settings: Settings) -> str:
    out = io.StringIO()
    command.current(alembic_config(settings, stdout=out), verbose=False)
    return out.getvalue().strip()


def revision(settings: Settings, message: str, *, plugin: str | None = None, autogenerate: bool = True) -> str:
    registry = PluginRegistry(settings)
    cfg = alembic_config(settings, registry)
    kwargs: dict[str, Any] = {"message": message, "autogenerate": autogenerate}
    if plugin:
        dirs = plugin_migration_dirs(registry)
        if plugin not in dirs:
            module = registry.pm.get_plugin(plugin)
            if module is None:
                raise ValueError(f"no enabled plugin named {plugin!r}")
            target = Path(module.__file__).parent / "migrations" / "versions"
            target.mkdir(parents=True, exist_ok=True)
            locations = cfg.get_main_option("version_locations") or ""
            cfg.set_main_option("version_locations", f"{locations}\n{target}".lstrip("\n"))
            kwargs.update(head="base", branch_label=plugin, depends_on=CORE_BASE, version_path=str(target))
        else:
            kwargs.update(head=f"{plugin}@head")
    else:
        kwargs.update(head="core@head")
    script = command.revision(cfg, **kwargs)
    return str(getattr(script, "path", script))


def expected_heads(settings: Settings, registry: PluginRegistry | None = None) -> set[str]:
    """The revisions a database must be at for this code and these enabled plugins."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config(settings, registry)).get_heads())


async def applied_revisions(db: Database) -> set[str]:
    """The revisions recorded in the database (empty when it was never migrated)."""
    async with db.engine.connect() as conn:
        has_table = await conn.run_sync(lambda sync: sa.inspect(sync).has_table("alembic_version"))
        if not has_table:
            return set()
        return {r[0] for r in await conn.execute(sa.text("SELECT version_num FROM alembic_version"))}


class SchemaCheck:
    """Is the database at every head? Checked on each call until it is, then remembered.

    ``/readyz`` asks on every poll: a database found up to date is not asked again (the code
    cannot move on under a running process); one that is behind is asked again, so the probe
    turns ready as soon as ``switchboard db upgrade`` has run elsewhere.
    """

    def __init__(self, settings: Settings, registry: PluginRegistry, db: Database) -> None:
        self.settings, self.registry, self.db = settings, registry, db
        self._heads: set[str] | None = None
        self._ready = False

    @property
    def ready(self) -> bool:
        """Found up to date already (no question asked)."""
        return self._ready

    async def core_missing(self) -> list[str]:
        """The core's head revisions the database lacks: without its tables (users, the audit
        log) no request can be served, whereas a plugin's missing table fails only its routes."""
        if self._ready:
            return []
        heads = await asyncio.to_thread(_core_heads)
        applied = await applied_revisions(self.db)
        if heads <= applied:
            return []
        return await asyncio.to_thread(_not_reached, self.settings, self.registry, set(heads), applied)

    async def missing(self) -> list[str]:
        """The head revisions the database lacks, sorted; ``[]`` when it is up to date."""
        if self._ready:
            return []
        if self._heads is None:
            self._heads = await asyncio.to_thread(expected_heads, self.settings, self.registry)
        applied = await applied_revisions(self.db)
        behind = await asyncio.to_thread(_not_reached, self.settings, self.registry, self._heads, applied)
        self._ready = not behind
        return behind


@functools.cache
def _core_heads() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory(str(HERE)).get_heads())


def _not_reached(settings: Settings, registry: PluginRegistry, heads: set[str], applied: set[str]) -> list[str]:
    if heads <= applied:
        return []
    from alembic.script import ScriptDirectory

    # A branch whose head is missing may still be current if the database holds a later
    # revision of it (code older than the database): only heads no applied revision reaches count.
    script = ScriptDirectory.from_config(alembic_config(settings, registry))
    reached: set[str] = set()
    for rev in applied:
        try:
            reached.update(r.revision for r in script.iterate_revisions(rev, "base"))
        except Exception:  # noqa: BLE001, S112 - a revision this code does not know: newer than the code
            continue
    return sorted(heads - reached)


def not_migrated(missing: Sequence[str]) -> str:
    """What ``serve`` and ``worker`` say at start when the database lacks these revisions."""
    return f"the database is not migrated (missing revision {', '.join(missing)}); run `switchboard db upgrade`"


def missing_revisions(settings: Settings) -> list[str]:
    """``SchemaCheck.missing`` for the command line (runs its own event loop)."""

    async def check() -> list[str]:
        db = Database(settings.database)
        try:
            return await SchemaCheck(settings, PluginRegistry(settings), db).missing()
        finally:
            await db.close()

    return asyncio.run(check())
