"""Plugin routes mounted at the root: ``at_root(routes)`` and the check that they shadow nothing.

A plugin's routes live under ``/plugins/<name>``. A plugin that must answer at paths a
client already knows (a compatibility layer for the system it replaces) wraps those routes
in ``at_root``; the app factory mounts them at the root instead, still guarded by their
``requires`` marks. A root route may not take a path or method the core (or another plugin)
already serves: the app refuses to start, naming both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from core.errors import ConfigError
from core.web.security import walk_routes

_PARAM = re.compile(r"\{[^}]+\}")


class RootRoutes(BaseRoute):
    """Routes a plugin asks to have mounted at the root (see ``at_root``); never matched itself."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes = list(routes)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:  # pragma: no cover - never matched
        raise RuntimeError("RootRoutes is unpacked by create_app, never routed to")

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)


def at_root(routes: Sequence[BaseRoute]) -> RootRoutes:
    """Mount ``routes`` at the root instead of under ``/plugins/<name>``; return it among your routes.

    ``switchboard_routes`` may return ``[*own_routes, at_root([Route("/api/v2/aggregate", …)])]``.
    The routes are authenticated like any other. One that would take a path and method the
    core or another plugin serves stops start-up with a message naming both.
    """
    return RootRoutes(routes)


def _sample(path: str) -> str:
    """A concrete path the template matches (each parameter replaced by a plain value)."""
    return _PARAM.sub("1", path)


def _served_by(routes: Iterable[BaseRoute], path: str, method: str) -> bool:
    scope: Scope = {"type": "http", "path": path, "root_path": "", "method": method}
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return True
    return False


def check_no_shadowing(owner: str, own: Sequence[BaseRoute], existing: Sequence[BaseRoute]) -> None:
    """Refuse (``ConfigError``) root routes of ``owner`` that overlap routes already mounted.

    Overlap is checked both ways, on a concrete path of each template and each method: a
    plugin route would catch a core request, or a core route would hide the plugin's.
    """
    clashes: list[str] = []
    for path, methods, _, _ in walk_routes(own):
        for method in sorted(methods):
            if _served_by(existing, _sample(path), method):
                clashes.append(f"{method} {path}")
    for path, methods, _, _ in walk_routes(existing):
        for method in sorted(methods):
            if _served_by(own, _sample(path), method):
                clashes.append(f"{method} {path}")
    if clashes:
        shown = ", ".join(sorted(set(clashes))[:5])
        raise ConfigError(
            f"plugin {owner!r} asks to mount routes at the root that the core or another plugin "
            f"already serves ({shown}): a plugin may not shadow them; change its prefix"
        )
