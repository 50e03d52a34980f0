"""Settings: ``config.toml``, overridden by ``SWITCHBOARD_<SECTION>__<KEY>``, secrets as ``${ENV}``.

Every problem is reported as one line naming the file, the key and what was expected.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from core.config.auth import AuthSettings
from core.errors import ConfigError

ENV_PREFIX = "SWITCHBOARD_"
DEFAULT_CONFIG = "config.toml"
_SECRET_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SECRET_NAMES = re.compile(r"(secret|password|token|api_key|signing_key|private|credential)", re.IGNORECASE)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # One log line per request on the logger switchboard.access (the audit log has them anyway).
    access_log: bool = False
    data_dir: str = "data"
    # Honour X-Forwarded-For / X-Forwarded-Proto from these proxy addresses.
    forwarded_allow_ips: str = "127.0.0.1"


class DatabaseSettings(_Section):
    url: str = "sqlite+aiosqlite:///./switchboard.db"
    pool_size: int = Field(default=10, ge=1)
    max_overflow: int = Field(default=10, ge=0)
    echo: bool = False
    # Apply migrations when `serve` starts. Default: only on SQLite (the embedded default).
    auto_migrate: bool | None = None

    @field_validator("url")
    @classmethod
    def _supported(cls, url: str) -> str:
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("expected a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


class QueueSettings(_Section):
    backend: Literal["local", "arq"] = "local"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # arq queue name; also the prefix of the gateway's other Redis keys.
    name: str = "switchboard"
    local_workers: int = Field(default=16, ge=1)
    # arq jobs one worker runs at once; each carries up to 100 deliveries.
    worker_jobs: int = Field(default=16, ge=1)
    sweep_interval: float = Field(default=15.0, gt=0)
    job_timeout: int = Field(default=120, ge=1)


class BreakerPolicy(_Section):
    """One destination's circuit breaker: ``failures`` consecutive failed attempts pause it (0: never)."""

    failures: int = Field(default=5, ge=0)
    cooldown: float = Field(default=30.0, gt=0)
    max_cooldown: float = Field(default=900.0, gt=0)


class BreakerOverride(_Section):
    failures: int | None = Field(default=None, ge=0)
    cooldown: float | None = Field(default=None, gt=0)
    max_cooldown: float | None = Field(default=None, gt=0)


class BreakerSettings(BreakerPolicy):
    """``[delivery.breaker]``: defaults, and ``[delivery.breaker.destinations.<name>]`` per destination."""

    destinations: dict[str, BreakerOverride] = Field(default_factory=dict)

    def policy(self, destination: str) -> BreakerPolicy:
        """The breaker settings of ``destination``: its own table over the defaults."""
        base: dict[str, Any] = {"failures": self.failures, "cooldown": self.cooldown, "max_cooldown": self.max_cooldown}
        override = self.destinations.get(destination)
        if override is not None:
            base.update(override.model_dump(exclude_none=True))
        return BreakerPolicy.model_validate(base)


class DeliverySettings(_Section):
    max_attempts: int = Field(default=8, ge=1)
    backoff_base: float = Field(default=60.0, gt=0)
    backoff_factor: float = Field(default=3.0, ge=1)
    backoff_max: float = Field(default=12 * 3600.0, gt=0)
    jitter: float = Field(default=0.2, ge=0, le=1)
    concurrency: int = Field(default=16, ge=1)
    timeout: float = Field(default=30.0, gt=0)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)


class ConversationSettings(_Section):
    idle_timeout: int = Field(default=24 * 3600, gt=0)


class AuditSettings(_Section):
    retention_days: int = Field(default=90, ge=1)
    capture_payloads: bool = False
    max_payload_bytes: int = Field(default=4096, ge=0)
    redact_keys: list[str] = Field(
        default_factory=lambda: [
            "password",
            "token",
            "secret",
            "authorization",
            "api_key",
            "access_token",
            "refresh_token",
            "national_id",
            "otp",
            "pin",
        ]
    )
    flush_interval: float = Field(default=0.2, gt=0)


class PrivacySettings(_Section):
    """``[privacy]``: encryption of personal data at rest, retention and erasure (docs/privacy.md)."""

    # The data key (``${SWITCHBOARD_PRIVACY_KEY}``); unset: personal data is stored in clear.
    key: str | None = None
    # Keys that earlier data may still be encrypted with, until ``privacy rotate-key`` has run.
    previous_keys: list[str] = Field(default_factory=list)
    # Days to keep a message's content and identifiers, per platform (``whatsapp = 90``).
    retention: dict[str, int] = Field(default_factory=dict)


class MailSettings(_Section):
    """``[mail]``: the SMTP server ``gateway.mail`` sends through (unset ``host``: mail is off)."""

    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    sender: str | None = None
    # STARTTLS on a plain connection (port 587); ``ssl`` is TLS from the first byte (port 465).
    starttls: bool = True
    ssl: bool = False
    timeout: float = Field(default=30.0, gt=0)


class MetricsSettings(_Section):
    """``[metrics]``: who may read ``GET /metrics`` (a bearer token, or these client addresses)."""

    enabled: bool = True
    token: str | None = None
    # Client addresses or networks (CIDR) allowed without the token; none by default.
    allow_ips: list[str] = Field(default_factory=list)


class RouteSettings(_Section):
    source: str
    destinations: list[str] = Field(min_length=1)
    kinds: list[str] | None = None


class Settings(_Section):
    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    conversations: ConversationSettings = Field(default_factory=ConversationSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    routes: list[RouteSettings] = Field(default_factory=list)
    plugins: dict[str, dict[str, Any]] = Field(default_factory=dict)

    # Where the settings came from, for messages; and which keys held secrets, for masking.
    source: str = Field(default="<defaults>", exclude=True)
    secret_paths: frozenset[tuple[str, ...]] = Field(default=frozenset(), exclude=True)
    # Which keys an environment override set (key path → variable name), so a message names the variable.
    env_paths: dict[tuple[str, ...], str] = Field(default_factory=dict, exclude=True)
    # Which installed (entry-point) plugins a gateway built from these settings loads: ``None``,
    # every one (a configuration file cannot say otherwise). The test kit names them
    # (``core.testing.make_settings(installed=…)``), so that one plugin's tests do not load, and
    # fail on, another installed plugin. Private: not a key of config.toml.
    _load_plugins: frozenset[str] | None = PrivateAttr(default=None)

    @property
    def load_plugins(self) -> frozenset[str] | None:
        """The installed plugins to load (``None``: all of them); in-process plugins always load."""
        return self._load_plugins

    def only_plugins(self, names: Iterable[str] | None) -> None:
        """Load only the installed plugins ``names`` (``None``: all), for tests."""
        self._load_plugins = None if names is None else frozenset(names)

    def where(self, path: tuple[Any, ...]) -> str:
        """Where the key at ``path`` was set, for a message: the file and key, or the environment variable."""
        return _where(self.source, self.env_paths, path)

    def plugin_enabled(self, name: str) -> bool:
        table = self.plugins.get(name, {})
        return _as_bool(table.get("enabled", True))

    def plugin_table(self, name: str) -> dict[str, Any]:
        """The plugin's table without ``enabled``."""
        return {k: v for k, v in self.plugins.get(name, {}).items() if k != "enabled"}

    def masked(self) -> dict[str, Any]:
        """The resolved settings with every secret replaced by ``***``."""
        data = self.model_dump(mode="json")
        # The data keys are secrets however they were given (from the environment or not).
        secrets = self.secret_paths | {("privacy", "key"), ("privacy", "previous_keys")}
        masked: dict[str, Any] = _mask(data, (), secrets)
        return masked


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
        return value.lower() in ("true", "1", "yes", "on")
    raise ConfigError(f"'enabled' must be true or false, got {value!r}")


def _mask(value: Any, path: tuple[str, ...], secrets: frozenset[tuple[str, ...]]) -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, (*path, k), secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, path, secrets) for v in value]
    if value and (path in secrets or (path and _SECRET_NAMES.search(path[-1]) and isinstance(value, str))):
        return "***"
    if isinstance(value, str) and "://" in value and "@" in value:
        # A URL with credentials in it (postgresql://user:pw@host/db).
        return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", value)
    return value


def _describe(path: tuple[Any, ...]) -> str:
    """``("plugins", "whatsapp", "app_secret")`` → ``[plugins.whatsapp] app_secret``."""
    parts = [str(p) for p in path]
    if not parts:
        return "(top level)"
    if parts[0] == "routes" and len(parts) > 1:
        return f"[[routes]] #{int(parts[1]) + 1}" + (f" {'.'.join(parts[2:])}" if len(parts) > 2 else "")
    if parts[0] == "plugins" and len(parts) > 2:
        return f"[plugins.{parts[1]}] {'.'.join(parts[2:])}"
    if len(parts) == 1:
        return parts[0]
    return f"[{parts[0]}] {'.'.join(parts[1:])}"


def _where(source: str, env_paths: Mapping[tuple[str, ...], str], path: tuple[Any, ...]) -> str:
    """``config.toml: [database] url``, or ``environment variable SWITCHBOARD_DATABASE__URL ([database] url)``."""
    key = tuple(str(p) for p in path)
    for end in range(len(key), 0, -1):
        variable = env_paths.get(key[:end])
        if variable is not None:
            return f"environment variable {variable} ({_describe(key)})"
    return f"{source}: {_describe(key)}"


def resolve_secrets(
    value: Any,
    source: str,
    environ: Mapping[str, str],
    path: tuple[str, ...] = (),
    found: set[tuple[str, ...]] | None = None,
    missing: dict[tuple[str, ...], str] | None = None,
    env_paths: Mapping[tuple[str, ...], str] | None = None,
) -> Any:
    """Replace ``${VAR}`` (or ``${VAR:-default}``) in every string with the environment's value.

    An empty variable counts as unset (as the shell's ``${VAR:-default}`` does): an empty token is
    as useless as a missing one, and refusing it at start beats a 401 from the far side later;
    write ``${VAR:-}`` where empty is meant. With ``missing``, an unset variable is recorded there
    (path → variable name) and left as a placeholder instead of raising: for commands that only
    describe the configuration.
    """
    if isinstance(value, dict):
        return {k: resolve_secrets(v, source, environ, (*path, k), found, missing, env_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_secrets(v, source, environ, path, found, missing, env_paths) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if environ.get(name):
            return environ[name]
        if default is not None:
            return default
        if missing is not None:
            missing[path] = name
            return MISSING_SECRET
        state = "is empty" if name in environ else "is not set"
        raise ConfigError(f"{_where(source, env_paths or {}, path)}: environment variable {name} {state}")

    if found is not None:
        found.add(path)
    return _SECRET_REF.sub(substitute, value)


MISSING_SECRET = "<missing secret>"  # noqa: S105 - a placeholder, not a secret


def describe_path(path: tuple[Any, ...]) -> str:
    """Where a key sits, as an operator writes it (``[plugins.whatsapp] app_secret``)."""
    return _describe(path)


def _env_overrides(environ: Mapping[str, str], env_paths: dict[tuple[str, ...], str]) -> dict[str, Any]:
    """``SWITCHBOARD_DATABASE__URL=…`` → ``{"database": {"url": …}}``.

    Records in ``env_paths`` every key path a variable sets (each leaf of a JSON table), so that a
    message about one of them names the variable rather than the file.
    """
    tree: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        path = [p.lower() for p in key[len(ENV_PREFIX) :].split("__")]
        if any(not p for p in path):
            raise ConfigError(f"environment variable {key}: empty section or key name")
        value: Any = raw
        if raw[:1] in ("[", "{"):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as err:
                raise ConfigError(f"environment variable {key}: invalid JSON ({err.msg})") from err
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"environment variable {key}: {part} is not a table")
            node = child
        node[path[-1]] = value
        _record_leaves(tuple(path), value, key, env_paths)
    return tree


def _record_leaves(path: tuple[str, ...], value: Any, variable: str, env_paths: dict[tuple[str, ...], str]) -> None:
    if isinstance(value, dict) and value:
        for child, inner in value.items():
            _record_leaves((*path, str(child)), inner, variable, env_paths)
    else:
        env_paths[path] = variable


def _merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def config_path_from(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> tuple[Path, bool]:
    """The config file to read and whether it was asked for explicitly."""
    if explicit:
        return Path(explicit), True
    if environ.get("SWITCHBOARD_CONFIG"):
        return Path(environ["SWITCHBOARD_CONFIG"]), True
    return Path(DEFAULT_CONFIG), False


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    missing_secrets: dict[tuple[str, ...], str] | None = None,
) -> Settings:
    """Read, overlay, resolve and validate the configuration. Raises ``ConfigError``.

    ``missing_secrets``: collect unset ``${VAR}`` there instead of raising (see ``resolve_secrets``).
    """
    env = os.environ if environ is None else environ
    config_file, explicit = config_path_from(path, env)
    data: dict[str, Any] = {}
    if config_file.exists():
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{config_file}: not valid TOML: {err}") from err
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"{config_file}: cannot be read: {err}") from err
    elif explicit:
        raise ConfigError(f"{config_file}: no such configuration file")
    source = str(config_file) if config_file.exists() else "<defaults>"
    env_paths: dict[tuple[str, ...], str] = {}
    overridden = _merge(data, _env_overrides(env, env_paths))
    return settings_from_dict(
        _merge(overridden, overrides or {}), source=source, environ=env, missing=missing_secrets, env_paths=env_paths
    )


def settings_from_dict(
    data: Mapping[str, Any],
    *,
    source: str = "<settings>",
    environ: Mapping[str, str] | None = None,
    missing: dict[tuple[str, ...], str] | None = None,
    env_paths: Mapping[tuple[str, ...], str] | None = None,
) -> Settings:
    env = os.environ if environ is None else environ
    origins = dict(env_paths or {})
    secret_paths: set[tuple[str, ...]] = set()
    resolved = resolve_secrets(dict(data), source, env, (), secret_paths, missing, origins)
    plugins = resolved.get("plugins", {})
    if not isinstance(plugins, dict) or any(not isinstance(t, dict) for t in plugins.values()):
        raise ConfigError(f"{source}: [plugins]: expected one table per plugin, [plugins.<name>]")
    try:
        settings = Settings.model_validate(resolved)
    except ValidationError as err:
        first = err.errors()[0]
        message = f"{_where(source, origins, first['loc'])}: {_explain(first, secret_paths)}"
        raise ConfigError(without_secrets(message, secret_values(resolved, secret_paths))) from err
    for name in settings.plugins:
        try:
            settings.plugin_enabled(name)
        except ConfigError as err:
            variable = origins.get(("plugins", name, "enabled"))
            where = f"environment variable {variable} ([plugins.{name}])" if variable else f"{source}: [plugins.{name}]"
            raise ConfigError(f"{where} {err}") from err
    settings.source = source
    settings.secret_paths = frozenset(secret_paths)
    settings.env_paths = origins
    return settings


def _is_secret(path: tuple[Any, ...], secret_paths: Collection[tuple[str, ...]]) -> bool:
    """A key whose value is a secret: resolved from ``${VAR}``, or named like one (``app_secret``)."""
    strings = tuple(str(p) for p in path)
    return any(strings[:i] in secret_paths for i in range(1, len(strings) + 1)) or any(
        _SECRET_NAMES.search(p) for p in strings
    )


def _explain(
    error: Mapping[str, Any], secret_paths: Collection[tuple[str, ...]] = (), prefix: tuple[str, ...] = ()
) -> str:
    """The rule a value broke; the value itself only when it is not a secret's."""
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    value = error.get("input")
    hidden = isinstance(value, dict | list) or _is_secret((*prefix, *error["loc"]), secret_paths)
    return f"{error['msg']}{'' if hidden else f' (got {value!r})'}"


def secret_values(data: Any, secret_paths: Collection[tuple[str, ...]], path: tuple[str, ...] = ()) -> set[str]:
    """Every secret string in ``data`` (keys as ``_is_secret`` tells), to be kept out of messages."""
    if isinstance(data, dict):
        return {s for k, v in data.items() for s in secret_values(v, secret_paths, (*path, str(k)))}
    if isinstance(data, list):
        return {s for v in data for s in secret_values(v, secret_paths, path)}
    if isinstance(data, str) and data and data != MISSING_SECRET and _is_secret(path, secret_paths):
        return {data}
    return set()


def without_secrets(message: str, secrets: Collection[str]) -> str:
    """``message`` with every secret in it replaced by ``***``: a plugin's own error text may quote one."""
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


def explain_validation_error(
    err: ValidationError,
    prefix: str,
    secret_paths: Collection[tuple[str, ...]] = (),
    at: tuple[str, ...] = (),
    settings: Settings | None = None,
    plugin: str = "",
) -> str:
    """One line for the first error of a plugin's settings model (``at``: where its table sits).

    With ``settings`` and ``plugin``, a key set by an environment override is named by its variable.
    """
    first = err.errors()[0]
    if settings is not None and plugin:
        path = ("plugins", plugin, *(str(p) for p in first["loc"]))
        if settings.where(path).startswith("environment variable"):
            return f"{settings.where(path)}: {_explain(first, secret_paths, at)}"
    loc = ".".join(str(p) for p in first["loc"]) or "(table)"
    return f"{prefix} {loc}: {_explain(first, secret_paths, at)}"
