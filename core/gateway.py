"""The running gateway's context: what plugins and the core's services share.

One ``Gateway`` per app. Hooks receive it as ``gateway``.
"""

from __future__ import annotations

import asyncio
import difflib
import gc
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx

from core import builtin
from core.auth.roles import Roles
from core.auth.service import AuthService
from core.config.settings import Settings
from core.contracts import Adapter, CronJob, Destination, JobFunction, job_name
from core.errors import ConfigError, PluginError
from core.mail import Mailer
from core.messages import KINDS, StandardMessage
from core.pipeline.deliveries import DeliveryEngine
from core.pipeline.http_client import make_client, make_session
from core.pipeline.ingest import Ingestor
from core.pipeline.queue.arq_backend import ArqQueue
from core.pipeline.queue.base import QueueBackend
from core.pipeline.queue.local import LocalQueue
from core.pipeline.stored_hooks import Stored
from core.plugins import PluginRegistry
from core.privacy import Privacy
from core.privacy.registry import check_keys
from core.storage.audit import AuditLog
from core.storage.db import Database

if TYPE_CHECKING:
    from core.storage.migrate import SchemaCheck

log = logging.getLogger("switchboard")
_heap_frozen = False


def freeze_startup_heap() -> None:
    """Hide what start-up allocated (modules, tables, plugins, caches) from the cyclic collector.

    Once per process, after the first gateway has started. A full collection otherwise walks
    every one of those objects: 70-95 ms pauses every few seconds under load, which made the
    99th percentile of webhook latency at 1,000 req/s (bench/ingest.py). Objects frozen are
    still freed by reference counting; only cycles among them would stay.
    """
    global _heap_frozen
    if _heap_frozen:
        return
    _heap_frozen = True
    gc.collect()
    gc.freeze()


def check_routes(settings: Settings, adapters: Iterable[str], destinations: Mapping[str, Destination]) -> list[str]:
    """Check ``[[routes]]`` against what the enabled plugins provide.

    A destination no enabled plugin provides is a typo that would store deliveries nobody can
    make: ``ConfigError`` naming the route, the name and the closest known one. So is a
    destination that cannot take the route's messages (``Destination.accepts``, asked for each
    of the route's kinds): each of them would be a dead delivery. A source no adapter serves is
    returned as a warning instead: a plugin may submit messages of its own platform through
    ``gateway.submit`` (routed by ``[[routes]]``) without an adapter.
    """
    warnings: list[str] = []
    for number, route in enumerate(settings.routes, start=1):
        where = f"{settings.source}: [[routes]] #{number} ({route.source} → {', '.join(route.destinations)})"
        for name in route.destinations:
            if name not in destinations:
                raise ConfigError(
                    f"{where}: no enabled plugin provides the destination {name!r}{_closest(name, destinations)}"
                )
            refusal = _refusal(destinations[name], route.source, route.kinds)
            if refusal:
                raise ConfigError(f"{where}: the destination {name!r} cannot take {refusal}")
        if route.source not in adapters:
            warnings.append(
                f"{where}: no enabled adapter serves the source {route.source!r}{_closest(route.source, adapters)}"
            )
    return warnings


def _refusal(destination: Destination, source: str, kinds: Sequence[str] | None) -> str | None:
    """What of a route's messages ``destination`` cannot take (``None``: it takes them all)."""
    if kinds:
        refused = [kind for kind in kinds if not destination.accepts(source, kind)]
        return f"{', '.join(map(repr, refused))} messages of {source!r}" if refused else None
    if destination.accepts(source, None):
        return None
    taken = [kind for kind in sorted(KINDS) if destination.accepts(source, kind)]
    if taken:
        return f"every message of {source!r}: give the route kinds (it takes {', '.join(taken)})"
    return f"messages of {source!r}"


def _closest(name: str, known: Iterable[str]) -> str:
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (known: {', '.join(names) or 'none'})"


class Gateway:
    """Settings, plugins, database, HTTP client, queue and audit log of one app."""

    def __init__(self, settings: Settings, extra_plugins: list[tuple[str, object]] | None = None) -> None:
        self.settings = settings
        self.plugins = PluginRegistry(settings, extra_plugins or [], internal=[(builtin.NAME, builtin)])
        self.privacy = Privacy(settings.privacy)
        self.db = Database(settings.database, self.privacy)
        # The permissions (the core's and the plugins') and the roles made of them.
        self.roles = Roles.build(
            self.plugins.each("switchboard_permissions"),
            {name: (role.permissions, role.description) for name, role in settings.auth.roles.items()},
            settings.where,
        )
        self.audit = AuditLog(self.db, settings.audit)
        self.auth = AuthService(self)
        self.mail = Mailer(settings.mail)
        self.queue: QueueBackend = ArqQueue(self) if settings.queue.backend == "arq" else LocalQueue(self)
        # Created in start(): an AsyncClient must be opened and closed on the running loop.
        self._http: httpx.AsyncClient | None = None
        self._session: aiohttp.ClientSession | None = None
        self.adapters: dict[str, Adapter] = self._unique("switchboard_adapters", "adapter")
        self.destinations: dict[str, Destination] = self._unique("switchboard_destinations", "destination")
        self._check_job_names()
        self.route_warnings = check_routes(settings, self.adapters, self.destinations)
        for warning in self.route_warnings:
            log.warning("%s", warning)
        self.ingest = Ingestor(self)
        self.deliveries = DeliveryEngine(self)
        self.started = False
        self._schema: Any = None
        self._migrated = False
        self._schema_asked_at = float("-inf")
        self._schema_unknown = False
        # Whether the stored data's key ids were checked against the configured keys (start, or
        # ``migrated`` once the database answers), and whether a refusal was logged.
        self._keys_checked = False
        self._keys_refused = False
        self._keys_asked_at = float("-inf")
        # One question at a time: a caller arriving while it is asked waits for its answer.
        self._schema_asking = asyncio.Lock()
        # Every scope a route declares (``requires(scopes=...)``), set by ``create_app`` once the
        # routes are built: API keys may name only these, ``webhooks:<adapter>`` and ``*``.
        self.route_scopes: frozenset[str] | None = None
        # Paths that serve an adapter besides /webhooks/{platform} (``core.webhook_route``), set by the app.
        self.webhook_paths: frozenset[str] = frozenset()

    @property
    def schema(self) -> SchemaCheck:
        """Whether the database is migrated to this code's revisions (``/readyz`` asks)."""
        if self._schema is None:
            from core.storage.migrate import SchemaCheck  # Alembic is loaded only when asked

            self._schema = SchemaCheck(self.settings, self.plugins, self.db)
        return self._schema  # type: ignore[no-any-return]

    async def migrated(self) -> bool:
        """Whether the database holds the core's tables; until it does, requests and cron jobs wait.

        Asked of the database at most once a second while the answer is no (a migration run
        from elsewhere is seen within a second), never again once it is yes. A database that
        cannot be asked counts as migrated: its own errors, and ``/readyz``, say what is wrong.
        """
        if self._keys_checked and (self._migrated or (self._schema is not None and self._schema.ready)):
            self._migrated = True
            return True
        async with self._schema_asking:
            if self._migrated or (self._schema is not None and self._schema.ready):
                self._migrated = True
                return await self._check_keys_late()
            if time.monotonic() - self._schema_asked_at < 1.0:
                return self._schema_unknown
            try:
                missing = await self.schema.core_missing()
            except Exception:  # noqa: BLE001 - unreachable or refusing: not this check's to report
                self._schema_unknown = True
                return True
            finally:
                self._schema_asked_at = time.monotonic()
            self._schema_unknown = False
            self._migrated = not missing
            return self._migrated and await self._check_keys_late()

    async def _check_keys_late(self) -> bool:
        """``check_keys`` once the database answers and is migrated (start could not): until it
        passes, nothing is served from the database; a key that cannot open the data is one line.
        Asked at most once a second while it does not pass."""
        if self._keys_checked:
            return True
        if time.monotonic() - self._keys_asked_at < 1.0:
            return False
        self._keys_asked_at = time.monotonic()
        try:
            self._keys_checked = await check_keys(self.db)
        except ConfigError as err:
            if not self._keys_refused:
                log.error("%s", err)
                self._keys_refused = True
            return False
        except Exception:  # noqa: BLE001 - the database went away again: asked on the next call
            return False
        return self._keys_checked

    def _unique(self, hook: str, what: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        owner: dict[str, str] = {}
        for plugin, items in self.plugins.each(hook, gateway=self).items():
            for item in items:
                name = getattr(item, "name", "")
                if not name:
                    raise PluginError(f"plugin {plugin}: {what} {item!r} has no name")
                if name in found:
                    raise PluginError(f"two {what}s are named {name!r} (plugins {owner[name]!r} and {plugin!r})")
                found[name] = item
                owner[name] = plugin
                if plugin in self.plugins.infos:
                    getattr(self.plugins.infos[plugin], f"{what}s").append(name)
        return found

    def _check_job_names(self) -> None:
        """Refuse two jobs, or two cron jobs, of one name: one would shadow the other (the core's ``sweep``)."""
        owners: dict[tuple[str, str], str] = {}
        for plugin, items in self.plugins.each("switchboard_jobs", gateway=self).items():
            for item in items:
                what, name = ("cron job", item.name) if isinstance(item, CronJob) else ("job", job_name(item))
                first = owners.get((what, name))
                if first == plugin:
                    raise PluginError(f"plugin {plugin!r} has two {what}s named {name!r}")
                if first is not None:
                    raise PluginError(f"two {what}s are named {name!r} (plugins {first!r} and {plugin!r})")
                owners[(what, name)] = plugin

    def plugin_config(self, name: str) -> Any:
        """The validated settings of plugin ``name`` (what its ``switchboard_settings`` returned)."""
        return self.plugins.plugin_settings.get(name, {})

    def jobs(self) -> dict[str, JobFunction]:
        """Job functions by name (what ``queue.enqueue_job(name, ...)`` runs), from ``switchboard_jobs``."""
        return {
            job_name(j): j for j in self.plugins.gather("switchboard_jobs", gateway=self) if not isinstance(j, CronJob)
        }

    def cron_jobs(self) -> list[CronJob]:
        """The periodic jobs of the core and every plugin, from ``switchboard_jobs``."""
        return [j for j in self.plugins.gather("switchboard_jobs", gateway=self) if isinstance(j, CronJob)]

    async def submit(
        self,
        messages: list[StandardMessage],
        *,
        destinations: list[str] | None = None,
        options: dict[str, Any] | None = None,
    ) -> list[Stored]:
        """Store messages and their deliveries as one transaction, then enqueue them.

        For direct submission APIs and outbound replies: ``destinations`` names where each
        message goes (instead of ``[[routes]]``); ``options`` are kept on each delivery
        (``DeliveryInfo.options``). Returns once committed.
        """
        unknown = [d for d in destinations or [] if d not in self.destinations]
        if unknown:
            raise PluginError(f"unknown destination {unknown[0]!r}")
        return await self.ingest.submit(messages, destinations=destinations, options=options)

    @property
    def http(self) -> httpx.AsyncClient:
        """The shared outbound HTTP client (connection pooling across all destinations)."""
        if self._http is None:
            raise RuntimeError("the gateway has not started: its HTTP client is opened in start()")
        return self._http

    @property
    def http_session(self) -> aiohttp.ClientSession:
        """The aiohttp session under ``http`` (the same connection pool), for high-volume senders."""
        if self._session is None:
            raise RuntimeError("the gateway has not started: its HTTP client is opened in start()")
        return self._session

    async def start(self, *, run_queue: bool = True) -> None:
        # Data sealed with a key that is not configured: refused before anything reads it. A
        # database that does not answer yet, or is not migrated, is checked once it is
        # (``migrated``, which requests and cron jobs wait on): ``/readyz`` says what is wrong.
        try:
            self._keys_checked = await check_keys(self.db)
        except ConfigError:
            await self.db.close()
            raise
        except Exception as err:  # noqa: BLE001 - unreachable: not this check's to report
            log.warning("privacy: data keys not checked yet, the database did not answer (%s)", type(err).__name__)
        except BaseException:
            await self.db.close()
            raise
        self._session = make_session()
        self._http = make_client(self._session, timeout=self.settings.delivery.timeout)
        await self.auth.start()
        await self.audit.start()
        await self.queue.start(consume=run_queue)
        await self.ingest.start()
        try:
            await self.plugins.notify("switchboard_startup", gateway=self)
        except BaseException:
            await self.close()  # a plugin refused to start (bad config): leave nothing open
            raise
        self.started = True

    async def close(self) -> None:
        try:
            # Each plugin's on its own: one that fails (logged) does not keep the others from
            # closing what they hold.
            await self.plugins.notify_each("switchboard_shutdown", gateway=self)
        finally:
            await self.ingest.close()
            await self.queue.close()
            await self.deliveries.close()
            await self.audit.close()
            await self.auth.close()
            if self._http is not None:
                await self._http.aclose()
            await self.db.close()
            self.started = False
