"""Finding, loading and calling plugins (pluggy, entry-point group ``switchboard``).

Every hook is called through pluggy, so third-party hook wrappers, ``tryfirst``/``trylast``
ordering and pluggy's tracing apply: ``gather`` calls a hook once on every plugin; ``each``
calls it plugin by plugin (a subset caller per plugin) where the core must know which plugin
gave what (adapters, destinations, routes, settings). The core's own routes, jobs and commands
come from internal plugins registered the same way (``core.builtin``).
"""

from __future__ import annotations

import difflib
import inspect
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version
from pydantic import ValidationError

from core import distribution, hookspecs
from core.config.settings import Settings, explain_validation_error, secret_values, without_secrets
from core.errors import ConfigError, PluginError

log = logging.getLogger("switchboard.plugins")
ENTRY_POINT_GROUP = "switchboard"
# The attribute of a plugin's entry-point module naming the plugin API versions it supports.
API_ATTRIBUTE = "SWITCHBOARD_API"


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
    # The plugin API versions it supports (its SWITCHBOARD_API), and whether this gateway's fits.
    api: str | None = None
    api_status: str = "not declared"

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
        refuse_incompatible: bool = True,
    ) -> None:
        """``internal``: the core's own plugins (``core.builtin``), registered first and listed apart.

        A plugin whose ``SWITCHBOARD_API`` excludes this gateway's ``PLUGIN_API_VERSION`` stops
        start-up with a ``PluginError`` naming it; with ``refuse_incompatible=False`` (for
        ``switchboard plugins``) it is listed with its status and left unregistered instead.
        """
        self.settings = settings
        self.refuse_incompatible = refuse_incompatible
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
            raise PluginError(f"plugin {culprit!r}: {_explain_unknown_hook(self.pm, err)}") from err
        self._validate_settings()

    def _load_entry_points(self) -> None:
        seen: set[str] = set()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in seen:  # the same distribution found twice on sys.path
                continue
            seen.add(ep.name)
            if self.settings.load_plugins is not None and ep.name not in self.settings.load_plugins:
                continue  # a test that did not name it: as if it were not installed
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
        info = self.infos[name] = PluginInfo(name, version, self.settings.plugin_enabled(name), module)
        if not info.enabled:
            return
        if not self._api_fits(info, plugin):
            return
        try:
            self.pm.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as err:
            raise PluginError(f"plugin {info.label} cannot be registered: {err}") from err

    def _api_fits(self, info: PluginInfo, plugin: object) -> bool:
        """Check the plugin's ``SWITCHBOARD_API`` against ``PLUGIN_API_VERSION``; record the result."""
        required = getattr(plugin, API_ATTRIBUTE, None)
        if required is None:
            return True
        info.api = str(required)
        try:
            fits = Version(hookspecs.PLUGIN_API_VERSION) in SpecifierSet(str(required))
        except InvalidSpecifier:
            info.api_status = "invalid requirement"
            problem = f"{API_ATTRIBUTE} = {required!r} is not a version specifier (e.g. '>=1.0,<2')"
        else:
            info.api_status = "compatible" if fits else f"incompatible with plugin API {hookspecs.PLUGIN_API_VERSION}"
            if fits:
                return True
            problem = (
                f"requires plugin API {required}; this gateway ({distribution.DISTRIBUTION} {distribution.version()}) "
                f"provides {hookspecs.PLUGIN_API_VERSION}"
            )
        if self.refuse_incompatible:
            raise PluginError(f"plugin {info.label} refused: {problem}")
        log.warning("plugin %s not loaded: %s", info.label, problem)
        info.enabled = False
        return False

    def _validate_settings(self) -> None:
        for name, info in self.infos.items():
            if not info.enabled:
                continue
            table = self.settings.plugin_table(name)
            caller = self._caller_of(name, "switchboard_settings")
            if not caller.get_hookimpls():
                self.plugin_settings[name] = table
                continue
            at = ("plugins", name)
            secrets = secret_values(table, self.settings.secret_paths, at)
            try:
                results = caller(config=table)
            except ValidationError as err:
                prefix = f"{self.settings.source}: [plugins.{name}]"
                message = explain_validation_error(err, prefix, self.settings.secret_paths, at, self.settings, name)
                raise ConfigError(without_secrets(message, secrets)) from err
            except (ValueError, TypeError, ConfigError) as err:
                message = f"{self.settings.source}: [plugins.{name}]: {err}"
                raise ConfigError(without_secrets(message, secrets)) from err
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

    async def answers(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call a hook on every plugin, awaiting the implementations that are coroutines: their answers.

        An implementation that raises stops the call (the rest never run) and the error propagates.
        """
        results = list(getattr(self.pm.hook, hook)(**kwargs))
        out: list[Any] = []
        try:
            while results:
                result = results.pop(0)
                out.append(await result if inspect.isawaitable(result) else result)
        finally:
            for left in results:
                if inspect.iscoroutine(left):
                    left.close()
        return [answer for answer in out if answer]

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

    async def notify_each(self, hook: str, *, only: Collection[str] | None = None, **kwargs: Any) -> list[str]:
        """Call each plugin's implementation of a notification hook on its own, in pluggy's order.

        Unlike ``notify``, an implementation that raises is logged with its plugin's name and
        does not stop the others. ``only`` limits the call to these plugins' implementations.
        Returns the names of the plugins whose implementation raised. Wrappers are not called:
        a notification has no result to wrap.
        """
        failed: list[str] = []
        for impl in reversed(getattr(self.pm.hook, hook).get_hookimpls()):
            if impl.hookwrapper or impl.wrapper or (only is not None and impl.plugin_name not in only):
                continue
            try:
                result = impl.function(*[kwargs[name] for name in impl.argnames])
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("plugin %s: its %s hook failed", impl.plugin_name, hook)
                failed.append(impl.plugin_name)
        return failed


def _explain_unknown_hook(pm: pluggy.PluginManager, err: pluggy.PluginValidationError) -> str:
    """pluggy's message for a hook no specification knows, with the nearest hook name."""
    message = str(err)
    known = [n for n in dir(pm.hook) if n.startswith("switchboard_") and getattr(pm.hook, n).spec is not None]
    for word in message.replace("'", " ").split():
        if word.startswith("switchboard_") and word not in known:
            close = difflib.get_close_matches(word, known, n=1)
            if close:
                return f"{message} (did you mean {close[0]!r}?)"
    return message


def new_manager() -> pluggy.PluginManager:
    """A plugin manager that knows the hook specifications and nothing else."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm
