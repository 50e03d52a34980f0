"""Finding, loading and calling plugins (pluggy, entry-point group ``switchboard``).

Every hook is called through pluggy, so third-party hook wrappers, ``tryfirst``/``trylast``
ordering and pluggy's tracing apply: ``gather`` calls a hook once on every plugin; ``each``
calls it plugin by plugin (a subset caller per plugin) where the core must know which plugin
gave what (adapters, destinations, routes, settings). The core's own routes, jobs and commands
come from internal plugins registered the same way (``core.builtin``).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy
from pydantic import ValidationError

from core import hookspecs
from core.config.settings import Settings, explain_validation_error
from core.errors import ConfigError, PluginError

log = logging.getLogger("switchboard.plugins")
ENTRY_POINT_GROUP = "switchboard"


@dataclass
class PluginInfo:
    """What is known about one installed plugin."""

    name: str
    version: str
    enabled: bool
    module: str
    adapters: list[str] = field(default_factory=list)
    destinations: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.module} {self.version})"


def _version_of(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.version if dist is not None else "unknown"


class PluginRegistry:
    """One app's plugin manager and what each plugin contributed."""

    def __init__(
        self,
        settings: Settings,
        extra_plugins: Iterable[tuple[str, object]] = (),
        *,
        internal: Iterable[tuple[str, object]] = (),
    ) -> None:
        """``internal``: the core's own plugins (``core.builtin``), registered first and listed apart."""
        self.settings = settings
        self.pm = new_manager()
        self.infos: dict[str, PluginInfo] = {}
        self.plugin_settings: dict[str, Any] = {}
        self.internal: list[str] = []
        for name, plugin in internal:
            self.pm.register(plugin, name=name)
            self.internal.append(name)
        self._load_entry_points()
        for name, plugin in extra_plugins:
            self._register(name, plugin, version="(in-process)", module=getattr(plugin, "__name__", repr(plugin)))
        unknown = sorted(set(settings.plugins) - set(self.infos))
        if unknown:
            installed = ", ".join(sorted(self.infos)) or "none"
            raise ConfigError(
                f"{settings.source}: [plugins.{unknown[0]}]: no plugin named {unknown[0]!r} is installed"
                f" (installed: {installed})"
            )
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as err:
            culprit = self.pm.get_name(err.plugin) if err.plugin is not None else "?"
            raise PluginError(f"plugin {culprit!r}: {err}") from err
        self._validate_settings()

    def _load_entry_points(self) -> None:
        seen: set[str] = set()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in seen:  # the same distribution found twice on sys.path
                continue
            seen.add(ep.name)
            version = _version_of(ep)
            if not self.settings.plugin_enabled(ep.name):
                self.infos[ep.name] = PluginInfo(ep.name, version, False, ep.value)
                continue
            try:
                plugin = ep.load()
            except Exception as err:
                raise PluginError(
                    f"plugin {ep.name} ({ep.value} {version}) failed to load: {type(err).__name__}: {err}"
                ) from err
            self._register(ep.name, plugin, version=version, module=ep.value)

    def _register(self, name: str, plugin: object, *, version: str, module: str) -> None:
        if name in self.infos or name in self.internal:
            raise PluginError(f"two plugins are named {name!r}")
        self.infos[name] = PluginInfo(name, version, self.settings.plugin_enabled(name), module)
        if not self.infos[name].enabled:
            return
        try:
            self.pm.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as err:
            raise PluginError(f"plugin {self.infos[name].label} cannot be registered: {err}") from err

    def _validate_settings(self) -> None:
        for name, info in self.infos.items():
            if not info.enabled:
                continue
            table = self.settings.plugin_table(name)
            caller = self._caller_of(name, "switchboard_settings")
            if not caller.get_hookimpls():
                self.plugin_settings[name] = table
                continue
            try:
                results = caller(config=table)
            except ValidationError as err:
                raise ConfigError(explain_validation_error(err, f"{self.settings.source}: [plugins.{name}]")) from err
            except (ValueError, TypeError, ConfigError) as err:
                raise ConfigError(f"{self.settings.source}: [plugins.{name}]: {err}") from err
            self.plugin_settings[name] = results[0] if results else table

    @property
    def enabled(self) -> list[str]:
        return [name for name, info in self.infos.items() if info.enabled]

    def _caller_of(self, name: str, hook: str) -> Any:
        """``hook`` restricted to plugin ``name``'s implementations (its wrappers included)."""
        others = [p for n, p in self.pm.list_name_plugin() if n != name and p is not None]
        return self.pm.subset_hook_caller(hook, remove_plugins=others)

    def gather(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call a registration hook once on every plugin; the lists they return, flattened."""
        try:
            results = getattr(self.pm.hook, hook)(**kwargs)
        except PluginError:
            raise
        except Exception as err:
            raise PluginError(f"{hook} failed: {type(err).__name__}: {err}") from err
        return [item for result in results if result for item in result]

    def each(self, hook: str, **kwargs: Any) -> dict[str, list[Any]]:
        """Call a registration hook plugin by plugin (internal plugins first): what each returned.

        For contributions the core attributes to their plugin: adapters, destinations, routes.
        """
        out: dict[str, list[Any]] = {}
        for name in (*self.internal, *self.enabled):
            caller = self._caller_of(name, hook)
            if not caller.get_hookimpls():
                continue
            try:
                results = caller(**kwargs)
            except Exception as err:
                label = self.infos[name].label if name in self.infos else name
                raise PluginError(f"plugin {label}: {hook} failed: {err}") from err
            items = [item for result in results if result for item in result]
            if items:
                out[name] = items
        return out

    async def notify(self, hook: str, **kwargs: Any) -> None:
        """Call a notification hook on every plugin, awaiting the implementations that are coroutines."""
        results = list(getattr(self.pm.hook, hook)(**kwargs))
        try:
            while results:
                result = results.pop(0)
                if inspect.isawaitable(result):
                    await result
        finally:
            for left in results:  # one raised: the rest never ran
                if inspect.iscoroutine(left):
                    left.close()


def new_manager() -> pluggy.PluginManager:
    """A plugin manager that knows the hook specifications and nothing else."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm
