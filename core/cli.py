"""The ``switchboard`` command line."""

# Each command imports what it needs when it runs (function-level imports below): the CLI
# starts in 0.2 s instead of paying for the whole app, its plugins and the database drivers.

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.config.settings import Settings, load_settings
from core.errors import ConfigError, PluginError


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))


class Unreachable(Exception):
    """A service the command needs does not answer."""


def _on_database(settings: Settings, step: Callable[[], Any]) -> Any:
    """Run a database step; an unreachable database becomes one line naming it (password masked)."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    try:
        return step()
    except (OSError, OperationalError, InterfaceError, DBAPIError) as err:
        where = settings.masked()["database"]["url"]
        reason = str(getattr(err, "orig", None) or err).splitlines()[0]
        raise Unreachable(f"database unreachable at {where}: {reason}") from err


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from core.config.logging import configure_logging
    from core.metrics import configure_multiprocess
    from core.storage import migrate
    from core.web.app import create_app

    settings = _settings(args)
    configure_logging(settings.server.log_format, settings.server.log_level)
    # Every serve worker and `switchboard worker` on this host write metrics to one folder.
    configure_multiprocess(settings.server.data_dir)
    auto = settings.database.auto_migrate
    if auto or (auto is None and settings.database.is_sqlite):
        _on_database(settings, lambda: migrate.upgrade(settings))
    else:
        _say_if_behind(settings)
    from core.privacy import cli as privacy_cli

    # A wrong or missing data key: one line now, rather than a failed start inside the server.
    _on_database(settings, lambda: privacy_cli.check(settings))
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    workers = args.workers or settings.server.workers
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.server.forwarded_allow_ips,
        "server_header": False,
    }
    if workers > 1:
        if settings.queue.backend == "local" and settings.database.is_sqlite:
            print(
                "note: several workers with the local queue each run their own in-process delivery workers",
                file=sys.stderr,
            )
        import os

        if getattr(args, "config", None):
            os.environ["SWITCHBOARD_CONFIG"] = args.config
        uvicorn.run("core.web.app:app_from_environment", factory=True, workers=workers, **common)
    else:
        uvicorn.run(create_app(settings), **common)
    return 0


def _say_if_behind(settings: Settings) -> None:
    """Without auto-migrate, say at start which command brings the database up to date.

    The server still starts (``/readyz`` answers 503 until the schema is there), so a
    migration run from elsewhere makes it ready without a restart.
    """
    from core.storage import migrate

    try:
        missing = _on_database(settings, lambda: migrate.missing_revisions(settings))
    except Unreachable as err:
        _say(settings, "warning", str(err))
        return
    if missing:
        _say(
            settings,
            "error",
            f"{migrate.not_migrated(missing)} (or set [database] auto_migrate = true). /readyz answers 503 until it is.",
        )


def _say(settings: Settings, level: str, text: str) -> None:
    """One line for the operator starting the server: ``level: text``, or a JSON log line with log_format = "json"."""
    if settings.server.log_format == "json":
        import logging

        logging.getLogger("switchboard.cli").log(logging.ERROR if level == "error" else logging.WARNING, text)
    else:
        print(f"{level}: {text}", file=sys.stderr)


def cmd_worker(args: argparse.Namespace) -> int:
    import asyncio

    from core.config.logging import configure_logging
    from core.metrics import configure_multiprocess
    from core.pipeline.worker import build_worker, run_worker

    settings = _settings(args)
    if settings.queue.backend != "arq":
        raise ConfigError(
            f'{settings.source}: [queue] backend: `switchboard worker` needs "arq" (got "local": '
            "the local queue runs inside `switchboard serve`)"
        )
    configure_logging(settings.server.log_format, settings.server.log_level)
    configure_multiprocess(settings.server.data_dir)
    if args.burst:
        # One pass over what is queued: on a database not migrated yet there is nothing to run
        # it on (the long-running worker waits for the migration instead).
        from core.storage import migrate

        missing = _on_database(settings, lambda: migrate.missing_revisions(settings))
        if missing:
            _say(settings, "error", migrate.not_migrated(missing))
            return 1
    main = build_worker(settings, burst=True).main() if args.burst else run_worker(settings)
    try:
        import uvloop  # installed with uvicorn[standard]; the server uses it too
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from core.storage import migrate

    settings = _settings(args)
    if args.db_command == "upgrade":
        _on_database(settings, lambda: migrate.upgrade(settings, args.revision))
        print(f"database at {migrate.current(settings) or 'base'}")
    elif args.db_command == "current":
        current = _on_database(settings, lambda: migrate.current(settings))
        print(current or "(empty database: run `switchboard db upgrade`)")
    elif args.db_command == "revision":
        path = _on_database(
            settings, lambda: migrate.revision(settings, args.message, plugin=args.plugin, autogenerate=not args.empty)
        )
        print(f"created {path}")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from core import builtin, hookspecs
    from core.config.settings import describe_path
    from core.plugins import PluginRegistry
    from core.web.app import create_app

    # A plugin whose secrets are not in this shell's environment is still listed: say which.
    missing: dict[tuple[str, ...], str] = {}
    settings = load_settings(getattr(args, "config", None), missing_secrets=missing)
    lacking: dict[str, list[str]] = {}
    for path, variable in missing.items():
        owner = path[1] if len(path) > 2 and path[0] == "plugins" else "core"
        lacking.setdefault(owner, []).append(f"{variable} ({describe_path(path)})")
    status = 0
    try:
        infos = list(create_app(settings).state.gateway.plugins.infos.values())
    except PluginError as err:
        # Still list what is installed, and say which plugin the gateway refuses.
        print(f"switchboard: {err}", file=sys.stderr)
        registry = PluginRegistry(settings, internal=[(builtin.NAME, builtin)], refuse_incompatible=False)
        infos, status = list(registry.infos.values()), 2
    except ConfigError as err:
        # A plugin refused a placeholder, or a route is wrong: list the plugins anyway, unexpanded.
        print(f"note: {err}", file=sys.stderr)
        infos = list(PluginRegistry(settings, refuse_incompatible=False).infos.values())
    if args.json:
        print(json.dumps([vars(i) | {"missing_secrets": lacking.get(i.name, [])} for i in infos], indent=2))
        return status
    if not infos:
        print("no plugins installed")
    print(f"plugin API {hookspecs.PLUGIN_API_VERSION}")
    for info in infos:
        state = "enabled" if info.enabled else "disabled"
        print(f"{info.name} {info.version} ({state}) — {info.module}")
        if lacking.get(info.name):
            print(f"    missing secrets: {', '.join(lacking[info.name])}")
        print(f"    plugin API: {info.api} ({info.api_status})" if info.api else "    plugin API: not declared")
        for label, items in (("adapters", info.adapters), ("destinations", info.destinations), ("routes", info.routes)):
            if items:
                print(f"    {label}: {', '.join(items)}")
    return status


def cmd_config(args: argparse.Namespace) -> int:
    import asyncio

    from core.gateway import Gateway
    from core.privacy import cli as privacy_cli

    settings = _settings(args)
    # Validates every enabled plugin's table, and the routes against what the plugins provide.
    gateway = Gateway(settings)
    registry = gateway.plugins
    for warning in gateway.route_warnings:
        print(f"warning: {warning}", file=sys.stderr)
    data = settings.masked()
    print(json.dumps(data, indent=2, default=str))
    print(privacy_cli.describe(settings), file=sys.stderr)
    # The plugins' outside dependencies (switchboard_checks), thoroughly: a bucket is written to.
    failed = asyncio.run(_run_checks(gateway))
    if failed:
        return 1
    print(f"configuration OK ({settings.source}; plugins: {', '.join(registry.enabled) or 'none'})", file=sys.stderr)
    return 0


# The core's own commands beyond the fixed ones: where each is made, and its line in --help.
CORE_COMMANDS = {
    "users": ("core.auth.cli:users_command", "manage users: create, list, set-role, deactivate, …"),
    "new-plugin": (
        "core.scaffold:new_plugin_command",
        "write a new plugin package (adapter, destination, settings, route, tests)",
    ),
}
# The entry-point group where a plugin declares its commands: ``name = "module:attribute"``, the
# attribute a ``core.Command`` or a function returning one. Listed by --help from the package
# metadata; the module is imported only when its command runs.
COMMANDS_GROUP = "switchboard.commands"


@dataclass
class _Declared:
    """A command known by name before its code is imported."""

    name: str
    target: str  # "module:attribute"
    help: str
    plugin: str | None = None  # the plugin it belongs to (None: the core)

    def load(self) -> Any:
        from importlib import import_module

        module, _, attribute = self.target.partition(":")
        made = getattr(import_module(module), attribute)
        return made() if callable(made) and not hasattr(made, "run") else made


def _owner(module: str, plugins: Sequence[Any]) -> str | None:
    """The plugin whose entry-point module is ``module`` or contains it (the longest match)."""
    owners = [ep for ep in plugins if module == ep.module or module.startswith(ep.module + ".")]
    return max(owners, key=lambda ep: len(ep.module)).name if owners else None


def _declared_commands(config: str | None) -> dict[str, _Declared]:
    """The core's commands and those installed plugins declare (``switchboard.commands``), from
    package metadata alone; a command of a plugin disabled in the configuration is left out."""
    from importlib.metadata import entry_points

    from core.plugins import ENTRY_POINT_GROUP

    declared = {name: _Declared(name, target, text) for name, (target, text) in CORE_COMMANDS.items()}
    try:
        settings: Settings | None = load_settings(config)
    except ConfigError:
        settings = None  # the command run reports it
    plugins = list(entry_points(group=ENTRY_POINT_GROUP))
    for ep in entry_points(group=COMMANDS_GROUP):
        if ep.name in declared:
            continue
        owner = _owner(ep.module, plugins)
        if owner is not None and settings is not None and not settings.plugin_enabled(owner):
            continue
        text = f"the {owner} plugin's command (switchboard {ep.name} --help)" if owner else f"from {ep.value}"
        declared[ep.name] = _Declared(ep.name, ep.value, text, owner)
    return declared


def _config_of(args: Sequence[str]) -> str | None:
    config = None
    for i, arg in enumerate(args):
        if arg == "--config" and i + 1 < len(args):
            config = args[i + 1]
        elif arg.startswith("--config="):
            config = arg.split("=", 1)[1]
    return config


def _lazy_commands(sub: Any, common: argparse.ArgumentParser, args: list[str], chosen: str | None) -> None:
    """Add the declared commands: each listed by name and help, only the chosen one imported.

    A command named on the line that no package declares may come from a plugin's
    ``switchboard_commands`` hook: then (only then) the plugins are loaded to find it.
    """
    declared = _declared_commands(_config_of(args))
    for name, command in sorted(declared.items()):
        if name == chosen:
            loaded = command.load()
            parser = sub.add_parser(name, parents=[common], help=command.help)
            loaded.arguments(parser)
            parser.set_defaults(func=_runner(loaded))
        else:
            sub.add_parser(name, parents=[common], help=command.help, add_help=False)
    if chosen is not None and chosen not in declared:
        _plugin_commands(sub, common, args)


async def _run_checks(gateway: Any) -> int:
    """Run every plugin check with ``thorough=True``, one line each on stderr; how many failed."""
    from core.web.health import plugin_checks, run_check

    failed = 0
    for check in plugin_checks(gateway):
        result = await run_check(check, thorough=True, timeout=30)
        if result["status"] == "ok":
            print(f"check {check.name}: ok", file=sys.stderr)
        else:
            failed += 1
            print(f"error: check {check.name}: {result['error']}", file=sys.stderr)
    return failed


def cmd_privacy(args: argparse.Namespace) -> int:
    if args.privacy_command in ("erase", "export"):  # a person's data: on a started gateway
        from core.operations.privacy_cli import privacy_command

        return _runner(privacy_command())(args)
    from core.privacy import cli as privacy_cli

    return privacy_cli.run(args, _settings)


def _plugin_commands(sub: Any, common: argparse.ArgumentParser, args: list[str]) -> None:
    """Add the subcommands of the core plugin and of every enabled plugin (``switchboard_commands``).

    Which plugins are on depends on the configuration; when it cannot be read, only the core's
    commands are added, and the chosen command then reports the configuration error properly.
    """
    # Imported here, not at the top: `switchboard --help` and the fixed commands must not
    # pay for loading the plugins' modules.
    from core import builtin
    from core.plugins import PluginRegistry, new_manager

    config = _config_of(args)
    try:
        commands = PluginRegistry(load_settings(config), internal=[(builtin.NAME, builtin)]).gather(
            "switchboard_commands"
        )
    except (ConfigError, PluginError):
        core_only = new_manager()
        core_only.register(builtin, name=builtin.NAME)
        commands = [c for result in core_only.hook.switchboard_commands() for c in result]
    for command in sorted(commands, key=lambda c: c.name):
        if command.name in sub.choices:
            continue  # declared by entry point, already added
        parser = sub.add_parser(command.name, parents=[common], help=command.help)
        command.arguments(parser)
        parser.set_defaults(func=_runner(command))


def _runner(command: Any) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        import asyncio

        if not command.needs_gateway:
            return int(asyncio.run(command.run(None, args)))

        from core.gateway import Gateway
        from core.storage import migrate

        settings = _settings(args)
        auto = settings.database.auto_migrate
        if auto or (auto is None and settings.database.is_sqlite):
            # As `serve` would: creating the first admin comes before the first start.
            _on_database(settings, lambda: migrate.upgrade(settings))

        async def main() -> int:
            gateway = Gateway(settings)
            await gateway.start(run_queue=False)
            try:
                return int(await command.run(gateway, args))
            finally:
                await gateway.close()

        return asyncio.run(main())

    return run


def build_parser(
    extra: Sequence[Callable[[Any], None]] = (), argv: Sequence[str] | None = None
) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a sub-command's own --config default must not overwrite one given earlier
    # (`switchboard --config X db upgrade`, `switchboard db --config X upgrade`).
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file (default: $SWITCHBOARD_CONFIG or ./config.toml)",
    )
    parser = argparse.ArgumentParser(
        prog="switchboard", description="Switchboard integration gateway.", parents=[common]
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", parents=[common], help="run the gateway (HTTP API, webhooks, admin UI)")
    serve.add_argument("--host", help="interface to bind (default: [server] host)")
    serve.add_argument("--port", type=int, help="port (default: [server] port)")
    serve.add_argument("--workers", type=int, help="worker processes (default: [server] workers)")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", parents=[common], help='run an arq delivery worker ([queue] backend = "arq")')
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.set_defaults(func=cmd_worker)

    db = sub.add_parser("db", parents=[common], help="database migrations")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dbsub.add_parser("upgrade", parents=[common], help="apply migrations (core and every enabled plugin)")
    up.add_argument("revision", nargs="?", default="heads", help="target revision (default: heads)")
    dbsub.add_parser("current", parents=[common], help="show the applied revisions")
    rev = dbsub.add_parser("revision", parents=[common], help="create a migration from model changes")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--plugin", help="create it on this plugin's branch")
    rev.add_argument("--empty", action="store_true", help="do not autogenerate")
    db.set_defaults(func=cmd_db)

    plugins = sub.add_parser("plugins", parents=[common], help="list plugins: version, state, what they provide")
    plugins.add_argument("--json", action="store_true")
    plugins.set_defaults(func=cmd_plugins)

    config = sub.add_parser("config", parents=[common], help="configuration")
    csub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    csub.add_parser("check", parents=[common], help="validate and print the resolved config (secrets masked)")
    config.set_defaults(func=cmd_config)

    from core.privacy import cli as privacy_cli

    privacy_cli.add_parser(sub, common).set_defaults(func=cmd_privacy)

    for add in extra:
        add(sub)
    args = list(sys.argv[1:] if argv is None else argv)
    chosen = _command_of(args)
    if chosen not in sub.choices:
        # `--help` lists the other commands from package metadata; only the chosen one is imported.
        _lazy_commands(sub, common, args, chosen)
    return parser


def _command_of(args: Sequence[str]) -> str | None:
    """The command named on the line: the first word that is neither an option nor ``--config``'s value."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--config":
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv=argv)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, PluginError) as err:
        print(f"switchboard: {err}", file=sys.stderr)
        return 2
    except Unreachable as err:
        print(f"switchboard: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as err:
        print(f"switchboard: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
