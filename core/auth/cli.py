"""``switchboard users …`` commands."""

from __future__ import annotations

from typing import Any


def add_commands(sub: Any) -> None:
    """Add the user-management subcommands to the top-level parser."""
    return None
