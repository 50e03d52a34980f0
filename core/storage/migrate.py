"""Schema migrations (Alembic) for core and plugin tables.

Core revisions live in ``core/storage/migrations/versions``. A plugin ships its own in
``<plugin package>/migrations/versions``, on a branch labelled with its entry-point name
that ``depends_on`` the core's first revision; ``upgrade`` goes to every head.
"""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from core.config.settings import Settings
from core.plugins import PluginRegistry
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
