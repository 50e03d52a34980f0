"""``switchboard privacy …``: erase or export one person's data from the command line (docs/privacy.md).

``erase`` asks for confirmation unless ``--yes`` is given, then prints what was erased, per
table, as JSON. ``export`` writes everything held about the person as JSON to ``--output`` (a
new file, readable by its owner only) or to standard output. Exit status: 0 done, 1 refused,
2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from typing import TYPE_CHECKING

from core.contracts import Command
from core.errors import HTTPError
from core.operations import erasure, subject_export

if TYPE_CHECKING:
    from core.gateway import Gateway


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


async def erase(gateway: Gateway, args: argparse.Namespace) -> int:
    participant = erasure.checked_participant(args.participant)
    if not args.yes:
        answer = await asyncio.to_thread(
            input, f"Erase everything held about {participant!r}? This cannot be undone. Type 'erase': "
        )
        if answer.strip() != "erase":
            print("switchboard privacy: nothing erased", file=sys.stderr)
            return 1
    result = await erasure.erase_participant(gateway, participant, actor=_actor())
    print(json.dumps(result, indent=2))
    return 0


async def export(gateway: Gateway, args: argparse.Namespace) -> int:
    """The document as JSON (to standard output or ``--output``); with ``--output <file>.zip``, a ZIP
    archive of it and the person's files (``switchboard_export_files``)."""
    document, files = await subject_export.collect_with_files(gateway, args.participant)
    zipped = args.output not in (None, "-") and str(args.output).lower().endswith(".zip")
    if files and not zipped:
        print(
            f"switchboard privacy: {len(files)} files of theirs are not in the JSON; "
            "--output <file>.zip writes them with it",
            file=sys.stderr,
        )
    if args.output in (None, "-"):
        sys.stdout.write(subject_export.encode(document).decode() + "\n")
    else:
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            if zipped:  # written as it is made: a person's media can be hundreds of MB
                await asyncio.to_thread(subject_export.write_archive, file, document, files)
            else:
                file.write(subject_export.encode(document))
        counts = subject_export.counts_of(document) | ({"files": len(files)} if zipped else {})
        print(json.dumps({"file": args.output, "counts": counts}))
    return 0


async def run_privacy(gateway: Gateway, args: argparse.Namespace) -> int:
    try:
        action = erase if args.privacy_command == "erase" else export
        return int(await action(gateway, args))
    except HTTPError as err:
        print(f"switchboard privacy: {err}", file=sys.stderr)
        return 1
    except FileExistsError as err:
        print(f"switchboard privacy: {err.filename} exists; choose a new file", file=sys.stderr)
        return 1


def privacy_command() -> Command:
    """``switchboard privacy erase/export``, run on a started gateway (``core.cli.cmd_privacy``; the key actions need none)."""
    return Command("privacy", "erase or export one person's data", run=run_privacy)
