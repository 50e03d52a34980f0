"""Permissions, and roles as named sets of them: the one place that says who may do what.

A route declares the one permission it needs (``requires("deliveries.repair")``); a user has
one role, and a role is a set of permissions. The core's permissions are listed here; a plugin
declares its own (``switchboard_permissions``, named ``<plugin>.<what>``). Each permission
names the least built-in role that holds it, which is how the three built-in roles are made:
``viewer`` holds the viewer permissions, ``operator`` those and the operator ones, ``admin``
every permission there is. More roles come from ``[auth.roles.<name>] permissions = [...]``,
which may also redefine ``viewer`` and ``operator`` (never ``admin``: some role must always be
able to manage users).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from core.errors import ConfigError, PluginError

BUILTIN_ROLES = ("viewer", "operator", "admin")
_RANK = {role: rank for rank, role in enumerate(BUILTIN_ROLES)}
# What a role name may be: it is stored in ``users.role`` (20 characters) and typed on command lines.
ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,19}$")
PERMISSION_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True, slots=True)
class PermissionInfo:
    """A permission: its name (``<area>.<what>``), what it allows, and the least built-in role holding it.

    A plugin returns these from ``switchboard_permissions``; their names start with the plugin's
    name and a dot (``reports.request``).
    """

    name: str
    description: str
    role: str = "admin"

    def __post_init__(self) -> None:
        if not PERMISSION_NAME.match(self.name):
            raise ValueError(f"permission {self.name!r}: expected dotted lower-case words, like 'reports.request'")
        if self.role not in _RANK:
            raise ValueError(f"permission {self.name!r}: role must be one of {', '.join(BUILTIN_ROLES)}")


# The core's own permissions. Plugins add theirs; a plugin's route may require any of these too.
CORE_PERMISSIONS = (
    PermissionInfo("traffic.read", "See deliveries, destinations, jobs and figures (no message content)", "viewer"),
    PermissionInfo("content.read", "Read messages and conversations: personal content", "viewer"),
    PermissionInfo("messages.send", "Reply in a conversation", "operator"),
    PermissionInfo("deliveries.repair", "Requeue, cancel and purge deliveries", "operator"),
    PermissionInfo("destinations.manage", "Pause and resume destinations", "operator"),
    PermissionInfo("jobs.run", "Run a job now", "operator"),
    PermissionInfo("jobs.manage", "Enable and disable jobs", "admin"),
    PermissionInfo("audit.read", "Read the audit log", "operator"),
    PermissionInfo("users.manage", "Manage users, their roles and API keys; see the roles", "admin"),
    PermissionInfo("privacy.manage", "Export and erase a person's data", "admin"),
)


@dataclass(frozen=True, slots=True)
class Role:
    """A named set of permissions; ``builtin`` unless it came from ``[auth.roles.<name>]`` or the ``roles`` table."""

    name: str
    permissions: frozenset[str]
    description: str = ""
    builtin: bool = True


class Roles:
    """The permissions this app knows and its roles (``gateway.roles``), built once at start-up."""

    def __init__(self, permissions: Iterable[PermissionInfo], configured: Mapping[str, Role] | None = None) -> None:
        self.permissions: dict[str, PermissionInfo] = {}
        for permission in permissions:
            if permission.name in self.permissions:
                raise PluginError(f"permission {permission.name!r} is declared twice")
            self.permissions[permission.name] = permission
        roles = {
            name: Role(name, frozenset(p.name for p in self.permissions.values() if _RANK[p.role] <= rank))
            for name, rank in _RANK.items()
        }
        roles.update(configured or {})
        self._roles = roles

    @classmethod
    def build(
        cls,
        plugin_permissions: Mapping[str, Iterable[PermissionInfo]],
        configured: Mapping[str, tuple[list[str], str]],
        where: Callable[[tuple[str, ...]], str],
    ) -> Roles:
        """The core's and the plugins' permissions, the built-in roles and ``[auth.roles]``.

        ``configured`` maps a role's name to its permissions and description; ``where`` names a
        configuration key in an error (``config.toml: [auth.roles.reporter] permissions``).
        """
        declared = list(CORE_PERMISSIONS)
        for plugin, items in plugin_permissions.items():
            for item in items:
                if not isinstance(item, PermissionInfo):
                    raise PluginError(
                        f"plugin {plugin}: switchboard_permissions returned {item!r}, not a PermissionInfo"
                    )
                if not item.name.startswith(f"{plugin}."):
                    raise PluginError(f"plugin {plugin}: permission {item.name!r} must start with '{plugin}.'")
                declared.append(item)
        known = cls(declared)
        roles: dict[str, Role] = {}
        for name, (names, description) in configured.items():
            if name == "admin":
                raise ConfigError(
                    f"{where(('auth', 'roles', name))}: the admin role holds every permission and cannot be redefined"
                )
            if not ROLE_NAME.match(name):
                raise ConfigError(
                    f"{where(('auth', 'roles', name))}: a role's name is lower-case letters, digits, '-' or '_' (at most 20)"
                )
            for permission in names:
                if permission not in known.permissions:
                    close = difflib.get_close_matches(permission, list(known.permissions), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise ConfigError(
                        f"{where(('auth', 'roles', name, 'permissions'))}: unknown permission {permission!r}{hint}"
                    )
            roles[name] = Role(name, frozenset(names), description, builtin=False)
        return cls(declared, roles)

    def __contains__(self, name: object) -> bool:
        return name in self._roles

    def __iter__(self) -> Iterator[Role]:
        return iter(self._roles.values())

    def names(self) -> list[str]:
        """Every built-in and configured role's name, the built-in ones first (those defined at run time: ``stored_roles``)."""
        return list(self._roles)

    def of(self, role: str | None) -> frozenset[str]:
        """The permissions of ``role``; none for a role no longer defined (a user keeps only sign-in)."""
        found = self._roles.get(role) if role is not None else None
        return found.permissions if found is not None else frozenset()

    def resolve(self, role: str | None, stored: Iterable[str] | None) -> frozenset[str]:
        """The permissions of ``role``: built in or configured, else as stored (``roles`` table, read with the user).

        Of a stored role, only the permissions this app knows count (a plugin may have been removed).
        """
        if role in self._roles or stored is None:
            return self.of(role)
        return frozenset(stored) & self.permissions.keys()

    def check_permission(self, name: str, where: str) -> None:
        """Raise ``PluginError`` when ``name`` (required by the route ``where``) is no permission here."""
        if name not in self.permissions and name not in _RANK:
            close = difflib.get_close_matches(name, list(self.permissions), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise PluginError(f"{where} requires unknown permission {name!r}{hint}")

    def of_builtin(self, role: str) -> frozenset[str]:
        """The permissions of built-in ``role`` as shipped (what ``requires("operator")`` asks for)."""
        rank = _RANK[role]
        return frozenset(p.name for p in self.permissions.values() if _RANK[p.role] <= rank)

    def view(self, stored: Iterable[Role] = ()) -> dict[str, list[dict[str, object]]]:
        """Every permission and every role (``stored``: those defined at run time, after the others).

        What ``GET /api/roles`` answers and the console's roles page shows.
        """
        return {
            "permissions": [
                {"name": p.name, "description": p.description, "role": p.role} for p in self.permissions.values()
            ],
            "roles": [
                {
                    "name": role.name,
                    "builtin": role.builtin,
                    "description": role.description,
                    "permissions": [p for p in self.permissions if p in role.permissions],
                }
                for role in [*self, *(r for r in stored if r.name not in self._roles)]
            ],
        }
