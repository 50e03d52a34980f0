"""``switchboard dhis2 check [instance]``: can the gateway reach each instance, and do its credentials work?"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

import httpx

from core import Command
from plugins.dhis2.client import DHIS2Client
from plugins.dhis2.delivery.summaries import web_message

if TYPE_CHECKING:
    from core import Gateway
    from plugins.dhis2.settings import DHIS2Settings


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="dhis2_command", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="call /api/system/info: DHIS2 version, and whether the credentials work")
    check.add_argument("instance", nargs="?", help="one instance (default: every configured instance)")
    check.add_argument("--json", action="store_true", help="print the results as JSON")
    check.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")


async def check_instance(client: DHIS2Client) -> dict[str, Any]:
    """What ``/api/system/info`` and ``/api/me`` say about one instance."""
    result: dict[str, Any] = {"instance": client.name, "url": client.api, "ok": False}
    try:
        info = await client.get("/system/info")
    except httpx.HTTPError as err:
        result["error"] = f"unreachable: {type(err).__name__}: {err}"
        return result
    if info.status_code in (401, 403) or info.is_redirect:
        result["error"] = f"credentials refused (HTTP {info.status_code})"
        said = web_message(_json(info))
        if said:
            result["error"] += f": {said}"
        return result
    body = _json(info)
    if not info.is_success or not isinstance(body, dict) or "version" not in body:
        result["error"] = f"unexpected answer from /api/system/info (HTTP {info.status_code}): is base_url right?"
        return result
    result.update(
        ok=True,
        version=body.get("version"),
        revision=body.get("revision"),
        system_name=body.get("systemName"),
        server_date=body.get("serverDate"),
    )
    try:
        me = await client.get("/me", {"fields": "username,name"})
    except httpx.HTTPError:
        return result
    user = _json(me)
    if me.is_success and isinstance(user, dict):
        result["user"] = user.get("username")
    return result


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


async def run(gateway: Gateway, args: argparse.Namespace) -> int:
    settings: DHIS2Settings = gateway.plugin_config("dhis2")
    names = [args.instance] if args.instance else sorted(settings.instances)
    if not names:
        print("no DHIS2 instance is configured ([plugins.dhis2.instances.<name>])")
        return 2
    unknown = [n for n in names if n not in settings.instances]
    if unknown:
        print(f"unknown DHIS2 instance {unknown[0]!r}; configured: {', '.join(sorted(settings.instances)) or 'none'}")
        return 2
    results = [await check_instance(DHIS2Client(n, settings.instances[n], gateway)) for n in names]
    if args.json:
        print(json.dumps(results, indent=2))
    for r in results if not args.json else []:
        if r["ok"]:
            who = f" as {r['user']}" if r.get("user") else ""
            print(f"{r['instance']}: OK, DHIS2 {r['version']} at {r['url']}{who}")
        else:
            print(f"{r['instance']}: FAILED at {r['url']}: {r['error']}")
    return 0 if all(r["ok"] for r in results) else 1


COMMAND = Command(name="dhis2", help="DHIS2 instances: check connection and credentials", run=run, arguments=_arguments)
