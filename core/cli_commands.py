"""CLI subcommands contributed by plugins (``switchboard_commands``)."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.gateway import Gateway


@dataclass(frozen=True)
class Command:
    """``switchboard <name> …``: ``arguments`` adds options to its parser; ``run`` does the work.

    ``run(gateway, args)`` gets a started gateway (database, HTTP client; no delivery
    workers) and returns the exit status.
    """

    name: str
    help: str
    run: Callable[[Gateway, argparse.Namespace], Awaitable[int]]
    arguments: Callable[[argparse.ArgumentParser], None] = field(default=lambda parser: None)
