"""``switchboard privacy``: data keys (``generate-key``, ``rotate-key``) and a person's data (``erase``, ``export``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from core.config.settings import Settings


def add_parser(sub: Any, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    privacy: argparse.ArgumentParser = sub.add_parser(
        "privacy", parents=[common], help="personal data: encryption keys, erasure and export of a person (docs/privacy.md)"
    )
    psub = privacy.add_subparsers(dest="privacy_command", required=True, metavar="ACTION")
    psub.add_parser(
        "generate-key", parents=[common], help="print a new data key for [privacy] key (SWITCHBOARD_PRIVACY_KEY)"
    )
    rotate = psub.add_parser(
        "rotate-key",
        parents=[common],
        help="re-encrypt all personal data with [privacy] key (the old key in previous_keys); resumable",
    )
    rotate.add_argument("--batch", type=int, default=500, help="rows per transaction (default: 500)")
    add_person_actions(psub)
    return privacy


def add_person_actions(actions: Any) -> None:
    """``erase`` and ``export`` of one person (run by ``core.operations.privacy_cli`` on a started gateway)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="PATH", default=argparse.SUPPRESS, help="config file (default: $SWITCHBOARD_CONFIG)"
    )
    common.add_argument("--participant", required=True, help="phone number, e-mail address or device subject")
    p = actions.add_parser("erase", parents=[common], help="erase everything held about a person, in core and plugins")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p = actions.add_parser("export", parents=[common], help="export everything held about a person, as JSON")
    p.add_argument("--output", metavar="FILE", help="a new file to write (default: standard output)")


def describe(settings: Settings) -> str:
    """What ``config check`` says of personal data (never the key itself)."""
    from core.privacy import Privacy

    privacy = Privacy(settings.privacy)
    if privacy.keyring is None:
        return "personal data: stored in clear (no [privacy] key; docs/privacy.md)"
    previous = [k for k in privacy.keyring.ids if k != privacy.keyring.current.id]
    also = f"; previous key ids {', '.join(previous)} still read" if previous else ""
    return f"personal data: encrypted at rest (AES-GCM, identifiers AES-SIV; key id {privacy.keyring.current.id}{also})"


def run(args: argparse.Namespace, settings_of: Any) -> int:
    if args.privacy_command == "generate-key":
        from core.privacy.keys import generate_key

        print(generate_key())
        return 0
    settings: Settings = settings_of(args)
    return asyncio.run(_rotate(settings, args.batch))


async def _rotate(settings: Settings, batch: int) -> int:
    from core.gateway import Gateway
    from core.privacy.registry import check_keys
    from core.privacy.rotation import rotate
    from core.storage.models import metadata

    gateway = Gateway(settings)
    try:
        await check_keys(gateway.db)
        tables = [*metadata.tables.values()]
        for plugin_metadata in gateway.plugins.gather("switchboard_models"):
            tables.extend(plugin_metadata.tables.values())
        result = await rotate(
            gateway.db,
            tables,
            Path(settings.server.data_dir),
            batch=max(1, batch),
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    finally:
        await gateway.db.close()
    total = sum(result.rows.values())
    print(f"re-encrypted {total} rows in {len(result.rows)} tables and {result.files} files with the current key")
    if result.retired:
        print(f"retired key ids {', '.join(result.retired)}: they may be removed from [privacy] previous_keys")
    return 0


def check(settings: Settings) -> None:
    """At start: ``ConfigError`` (one line) when stored data is sealed with a key not configured."""

    async def main() -> None:
        from core.privacy import Privacy
        from core.privacy.registry import check_keys
        from core.storage.db import Database

        db = Database(settings.database, Privacy(settings.privacy))
        try:
            await check_keys(db)
        finally:
            await db.close()

    asyncio.run(main())
