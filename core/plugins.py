"""Finding, loading and calling plugins (pluggy, entry-point group ``switchboard``)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
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

    def __init__(self, settings: Settings, extra_plugins: Iterable[tuple[str, object]] = ()) -> None:
        self.settings = settings
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.plugin_settings: dict[str, Any] = {}
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
        if name in self.infos:
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
            results = self.call_plugin(name, "switchboard_settings", config=table)
            if not results:
                self.plugin_settings[name] = table
                continue
            try:
                self.plugin_settings[name] = results[0]()
            except ValidationError as err:
                raise ConfigError(explain_validation_error(err, f"{self.settings.source}: [plugins.{name}]")) from err
            except (ValueError, TypeError, ConfigError) as err:
                raise ConfigError(f"{self.settings.source}: [plugins.{name}]: {err}") from err

    @property
    def enabled(self) -> list[str]:
        return [name for name, info in self.infos.items() if info.enabled]

    def call_plugin(self, name: str, hook: str, **kwargs: Any) -> list[Any]:
        """Bound calls (not yet called) to ``name``'s implementations of ``hook``."""
        plugin = self.pm.get_plugin(name)
        calls = []
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            if impl.plugin is plugin:
                args = {a: kwargs[a] for a in impl.argnames if a in kwargs}
                calls.append(lambda f=impl.function, a=args: f(**a))
        return calls

    def collect(self, hook: str, **kwargs: Any) -> dict[str, list[Any]]:
        """Call ``hook`` on every enabled plugin; flatten each plugin's returned list."""
        out: dict[str, list[Any]] = {}
        for name in self.enabled:
            for call in self.call_plugin(name, hook, **kwargs):
                try:
                    result = call()
                except Exception as err:
                    raise PluginError(f"plugin {self.infos[name].label}: {hook} failed: {err}") from err
                if result:
                    out.setdefault(name, []).extend(result)
        return out

    async def notify(self, hook: str, **kwargs: Any) -> None:
        """Call a notification hook on every plugin, awaiting coroutine implementations."""
        for name in self.enabled:
            for call in self.call_plugin(name, hook, **kwargs):
                result = call()
                if inspect.isawaitable(result):
                    await result


def plugin_module(name: str, registry: PluginRegistry) -> ModuleType | None:
    plugin = registry.pm.get_plugin(name)
    return plugin if isinstance(plugin, ModuleType) else None
