"""``switchboard new-plugin NAME``: a complete, installable plugin package from Jinja2 templates.

The package has the ``switchboard`` entry point, an HMAC-checked adapter, a destination that
POSTs with ``raise_for_response``, a settings model, one authenticated route, and tests written
with the gateway's test kit that pass as generated (``pip install -e '.[test]' && pytest``).
"""

from __future__ import annotations

import argparse
import keyword
import sys
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from core.contracts import Command
from core.distribution import DISTRIBUTION
from core.hookspecs import PLUGIN_API_VERSION

# Template → path in the new package ({package} is the import package's name).
FILES = {
    "pyproject.toml.jinja": "pyproject.toml",
    "README.md.jinja": "README.md",
    "package/__init__.py.jinja": "{package}/__init__.py",
    "package/adapter.py.jinja": "{package}/adapter.py",
    "package/destination.py.jinja": "{package}/destination.py",
    "package/routes.py.jinja": "{package}/routes.py",
    "package/settings.py.jinja": "{package}/settings.py",
    "tests/test_plugin.py.jinja": "tests/test_{name}.py",
}


class ScaffoldError(ValueError):
    """The name or the folder will not do."""


def check_name(name: str) -> str:
    """A plugin name: a lower-case Python identifier that is not a keyword."""
    if not name.isidentifier() or keyword.iskeyword(name) or name != name.lower() or name.startswith("_"):
        raise ScaffoldError(
            f"{name!r} is not a plugin name: use a lower-case Python identifier (letters, digits, _), e.g. 'acme_crm'"
        )
    return name


def new_plugin(name: str, parent: Path) -> Path:
    """Write the package for plugin ``name`` into ``parent/switchboard-<name>``; returns that folder."""
    check_name(name)
    folder = parent / f"switchboard-{name.replace('_', '-')}"
    if folder.exists():
        raise ScaffoldError(f"{folder} already exists: choose another name or --dir")
    context: dict[str, Any] = {
        "name": name,
        "package": f"switchboard_{name}",
        "dist": f"switchboard-{name.replace('_', '-')}",
        "cls": "".join(part.capitalize() for part in name.split("_")),
        "core_dist": DISTRIBUTION,
        "api": PLUGIN_API_VERSION,
        "api_major": int(PLUGIN_API_VERSION.split(".")[0]),
    }
    env = Environment(
        loader=PackageLoader("core.scaffold", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - Python and TOML sources, not HTML
    )
    for template, target in FILES.items():
        path = folder / target.format(**context)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template(template).render(**context), encoding="utf-8")
    return folder


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plugin_name", metavar="NAME", help="the plugin's name (a Python identifier)")
    parser.add_argument("--dir", default=".", help="where to create its folder (default: here)")


async def _run(_gateway: Any, args: argparse.Namespace) -> int:
    try:
        folder = new_plugin(args.plugin_name, Path(args.dir))
    except ScaffoldError as err:
        print(f"switchboard new-plugin: {err}", file=sys.stderr)
        return 2
    print(f"created {folder}\n  cd {folder} && pip install -e '.[test]' && pytest")
    return 0


def new_plugin_command() -> Command:
    """The ``new-plugin`` CLI command (needs no gateway, no database)."""
    return Command(
        "new-plugin",
        "write a new plugin package (adapter, destination, settings, route, tests)",
        _run,
        _arguments,
        needs_gateway=False,
    )
