"""Helpers of the privacy tests: a data key, and everything a test wrote as stored at rest."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import sqlalchemy as sa

from core.privacy.keys import generate_key
from tests.conftest import Stack

KEY = generate_key()
OLD_KEY = generate_key()


async def stored_bytes(stack: Stack) -> bytes:
    """The whole database as it is at rest (``pg_dump``; SQLite's file with its WAL) and every
    file under the data directory."""
    if stack.is_postgres:
        url = sa.engine.make_url(stack.database_url)
        dumped = await asyncio.to_thread(
            subprocess.run,
            ["pg_dump", "-h", url.host or "127.0.0.1", "-U", url.username or "postgres", url.database or ""],
            capture_output=True,
            check=True,
        )
        database = dumped.stdout
    else:
        path = Path(stack.database_url.split("///", 1)[1])
        database = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    data_dir = stack.tmp / "data"
    files = b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file()) if data_dir.exists() else b""
    return database + files


def leaked(stored: bytes, markers: list[str]) -> list[str]:
    """The markers found in ``stored`` (as UTF-8, and as JSON would escape them)."""
    found = []
    for marker in markers:
        forms = {marker.encode(), marker.encode("unicode_escape")}
        if any(form in stored for form in forms):
            found.append(marker)
    return found
