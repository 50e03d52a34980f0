"""``switchboard users …``: user management from the command line.

A password is read from a prompt (twice) or, with ``--password-stdin``, from the first line
of standard input; never from the command line, where other users and shell history see it.
Exit status: 0 done, 1 refused (taken name, weak password, no such user, last admin), 2 bad
usage or configuration.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import TYPE_CHECKING, Any

from core.auth.events import record_event
from core.auth.password_policy import password_problems
from core.auth.users import create_user, find_user, list_users, normalise_username, update_user, user_view
from core.auth.users import set_password as store_password
from core.auth.users import unlock as lift
from core.contracts import Command
from core.errors import HTTPError

if TYPE_CHECKING:
    from core.gateway import Gateway


class CommandFailed(Exception):
    """A refusal to report as one line and exit status 1."""


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


PROMPT_ATTEMPTS = 3


def read_password(gateway: Gateway, args: argparse.Namespace, username: str | None) -> str:
    """The password from standard input, or from a prompt that asks again when the policy refuses it.

    At the prompt a refused or mistyped password is explained and asked for again, up to
    ``PROMPT_ATTEMPTS`` times; from ``--password-stdin`` there is no second chance (exit 1).
    """
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if not password:
            raise CommandFailed("no password on standard input")
        return password
    if not sys.stdin.isatty():
        raise CommandFailed("no terminal to prompt for a password: use --password-stdin")
    problem = ""
    for _ in range(PROMPT_ATTEMPTS):
        password = getpass.getpass("Password: ")
        problems = password_problems(password, min_length=gateway.settings.auth.password_min_length, username=username)
        if problems:
            problem = "the password is not acceptable: " + "; ".join(problems)
        elif getpass.getpass("Password (again): ") != password:
            problem = "the passwords do not match"
        else:
            return password
        print(f"switchboard users: {problem}; try again", file=sys.stderr, flush=True)
    raise CommandFailed(f"{problem} ({PROMPT_ATTEMPTS} attempts)")


def _explain(err: HTTPError) -> str:
    details = "; ".join(f"{e.get('field', '')} {e['message']}".strip() for e in err.errors or [])
    return f"{err}: {details}" if details else str(err)


async def _find(gateway: Gateway, username: str) -> Any:
    user = await find_user(gateway, username)
    if user is None:
        raise CommandFailed(f"no user named {username.strip().lower()!r}")
    return user


def _record(gateway: Gateway, action: str, **detail: Any) -> None:
    record_event(gateway, action, actor=_actor(), actor_type="system", **detail)


async def create(gateway: Gateway, args: argparse.Namespace) -> int:
    username = normalise_username(args.username)
    password = read_password(gateway, args, username)
    user = await create_user(
        gateway,
        username,
        password,
        args.role,
        full_name=args.full_name,
        email=args.email,
        must_change_password=args.must_change_password,
    )
    _record(gateway, "user_created", user=user.username, role=user.role)
    print(f"created {user.role} {user.username} ({user.id})")
    return 0


async def list_(gateway: Gateway, args: argparse.Namespace) -> int:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        rows, cursor = await list_users(gateway, role=args.role, status=args.status, limit=200, cursor=cursor)
        items += [user_view(r) for r in rows]
        if cursor is None:
            break
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    if not items:
        print("no users")
    for u in items:
        flags = [
            f for f, on in (("must change password", u["must_change_password"]), ("locked", u["locked_until"])) if on
        ]
        last = u["last_login_at"] or "never"
        extra = f"  [{', '.join(flags)}]" if flags else ""
        print(f"{u['username']:<30} {u['role']:<9} {u['status']:<9} last login {last}{extra}")
    return 0


async def set_role(gateway: Gateway, args: argparse.Namespace) -> int:
    user = await _find(gateway, args.username)
    before, after = await update_user(gateway, user.id, role=args.role)
    if before.role != after.role:
        _record(gateway, "role_changed", user=after.username, previous=before.role, role=after.role)
    print(f"{after.username} is {after.role}" + (" (unchanged)" if before.role == after.role else ""))
    return 0


async def set_status(gateway: Gateway, args: argparse.Namespace, status: str) -> int:
    user = await _find(gateway, args.username)
    before, after = await update_user(gateway, user.id, status=status)
    if before.status != after.status:
        action = "user_deactivated" if status == "inactive" else "user_status_changed"
        _record(gateway, action, user=after.username, previous=before.status, state=after.status)
    print(f"{after.username} is {after.status}" + (" (unchanged)" if before.status == after.status else ""))
    return 0


async def deactivate(gateway: Gateway, args: argparse.Namespace) -> int:
    return await set_status(gateway, args, "inactive")


async def activate(gateway: Gateway, args: argparse.Namespace) -> int:
    return await set_status(gateway, args, "active")


async def set_password(gateway: Gateway, args: argparse.Namespace) -> int:
    user = await _find(gateway, args.username)
    password = read_password(gateway, args, user.username)
    await store_password(gateway, user.id, password, must_change=args.must_change_password)
    _record(gateway, "password_reset", user=user.username)
    print(f"password of {user.username} set; their sessions ended" + (", lock lifted" if user.locked_until else ""))
    return 0


async def unlock(gateway: Gateway, args: argparse.Namespace) -> int:
    user = await _find(gateway, args.username)
    await lift(gateway, user.id)
    _record(gateway, "unlocked", user=user.username)
    print(f"{user.username} unlocked")
    return 0


async def run_users(gateway: Gateway, args: argparse.Namespace) -> int:
    """Run the chosen ``users`` action; a refusal is one line on standard error and status 1."""
    try:
        return int(await args.users_action(gateway, args))
    except HTTPError as err:
        print(f"switchboard users: {_explain(err)}", file=sys.stderr)
        return 1
    except CommandFailed as err:
        print(f"switchboard users: {err}", file=sys.stderr)
        return 1


def users_command() -> Command:
    """``switchboard users …`` as the core plugin contributes it (``switchboard_commands``)."""
    return Command("users", "manage users: create, list, set-role, deactivate, …", run=run_users, arguments=add_actions)


def add_actions(users: argparse.ArgumentParser) -> None:
    """Add the user-management actions to the ``users`` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file (default: $SWITCHBOARD_CONFIG or ./config.toml)",
    )
    password = argparse.ArgumentParser(add_help=False)
    password.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input (instead of a prompt)"
    )
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")

    p = actions.add_parser("create", parents=[common, password], help="create a user (password from a prompt)")
    p.add_argument("--username", required=True)
    p.add_argument("--role", required=True, help="viewer, operator, admin or a role of [auth.roles]")
    p.add_argument("--full-name")
    p.add_argument("--email")
    p.add_argument(
        "--must-change-password", action="store_true", help="the user must choose a new password at first login"
    )
    p.set_defaults(users_action=create)

    p = actions.add_parser("list", parents=[common], help="list users")
    p.add_argument("--role", help="viewer, operator, admin or a role of [auth.roles]")
    p.add_argument("--status", choices=["active", "pending", "rejected", "inactive"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(users_action=list_)

    p = actions.add_parser("set-role", parents=[common], help="change a user's role")
    p.add_argument("username")
    p.add_argument("role", help="viewer, operator, admin or a role of [auth.roles]")
    p.set_defaults(users_action=set_role)

    p = actions.add_parser("deactivate", parents=[common], help="deactivate a user (their sessions end at once)")
    p.add_argument("username")
    p.set_defaults(users_action=deactivate)

    p = actions.add_parser("activate", parents=[common], help="activate a user (also approves a pending signup)")
    p.add_argument("username")
    p.set_defaults(users_action=activate)

    p = actions.add_parser(
        "set-password", parents=[common, password], help="set a user's password (ends their sessions, lifts a lock)"
    )
    p.add_argument("username")
    p.add_argument(
        "--must-change-password", action="store_true", help="the user must choose a new password at next login"
    )
    p.set_defaults(users_action=set_password)

    p = actions.add_parser("unlock", parents=[common], help="lift a lockout after failed logins")
    p.add_argument("username")
    p.set_defaults(users_action=unlock)
