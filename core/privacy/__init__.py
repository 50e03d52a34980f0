"""Personal data: how participant identifiers are stored and looked up (docs/privacy.md).

``Gateway.privacy`` is the one place that knows whether a data key is configured. Code that
filters by a participant (an API filter, an erasure, an export, a plugin's own table) asks it
for the clause instead of comparing the column with the value, so the same query keeps
working when identifiers are stored sealed, and during a key rotation (each key's form).

With a key, content is sealed with AES-GCM and identifiers with AES-SIV by the column types of
``core.privacy.columns``; ``seal``/``open`` are for a plugin that stores content elsewhere.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from core.config.settings import PrivacySettings
from core.privacy.keys import STREAM_CHUNK, STREAM_MAGIC, KeyMissing, Keyring


class Privacy:
    """Participant identifiers as stored, and the clause that finds them."""

    def __init__(self, settings: PrivacySettings) -> None:
        self.settings = settings
        # A malformed key is a ConfigError here, at start-up, naming the setting.
        self.keyring: Keyring | None = Keyring(settings.key, settings.previous_keys) if settings.key else None
        if self.keyring is None and settings.previous_keys:
            Keyring(settings.previous_keys[0])  # still checked: a typo is found before it is needed

    @property
    def enabled(self) -> bool:
        """Whether a data key is configured (personal data encrypted at rest)."""
        return self.keyring is not None

    def lookup_values(self, participant: str) -> list[str]:
        """Every stored form ``participant`` may have (one per key still in use).

        Without a key: the identifier itself. With one: the identifier sealed with the current
        key and with each previous one (until ``privacy rotate-key`` has run, rows may hold either).
        """
        if self.keyring is None:
            return [participant]
        return self.keyring.identifier_forms(participant)

    def match(self, column: Any, participant: str) -> sa.ColumnElement[bool]:
        """A clause true where ``column`` holds ``participant`` (in any of its stored forms).

        ``column`` is a ``core.ParticipantRef`` column; the stored forms pass through its type
        as they are.
        """
        values = self.lookup_values(participant)
        clause: sa.ColumnElement[bool] = column == values[0] if len(values) == 1 else column.in_(values)
        return clause

    def seal(self, text: str) -> str:
        """``text`` as a plugin should store it outside a sealed column (a file name, a cache):
        sealed with the current key, or as it is without one."""
        return text if self.keyring is None else self.keyring.seal(text)

    def open(self, text: str) -> str:
        """What ``seal`` (or a sealed column) stored, as text again."""
        return text if self.keyring is None else self.keyring.open(text)

    def seal_bytes(self, data: bytes) -> bytes:
        """A file's bytes as they should be written to disk (sealed with the current key)."""
        return data if self.keyring is None else self.keyring.seal_bytes(data)

    def seal_file(self, source: Path, target: Path) -> None:
        """Write the file ``source`` to ``target`` as it should be kept: sealed with the current key
        in chunks of 1 MiB (a large file, a report: never whole in memory), or as it is without a key.

        ``target`` appears whole or not at all (written beside it, then renamed). Blocking: call it
        in a thread.
        """
        partial = target.with_name(target.name + ".sealing")
        with source.open("rb") as src, partial.open("wb") as dst:
            if self.keyring is None:
                shutil.copyfileobj(src, dst, STREAM_CHUNK)
            else:
                self.keyring.seal_stream(src, dst)
        partial.replace(target)

    def open_file(self, path: Path) -> Iterator[bytes]:
        """The clear bytes of a file ``seal_file`` wrote, a chunk at a time (a file written without
        a key: as it is). Blocking: iterate it in a thread. Without a key, a sealed file raises
        ``KeyMissing``."""
        with path.open("rb") as file:
            sealed = file.read(len(STREAM_MAGIC)) == STREAM_MAGIC
            file.seek(0)
            if not sealed:
                while chunk := file.read(STREAM_CHUNK):
                    yield chunk
                return
            if self.keyring is None:
                raise KeyMissing("a file is sealed but [privacy] key is not set")
            yield from self.keyring.open_stream(file)

    def open_bytes(self, data: bytes) -> bytes:
        """A file's bytes as read from disk, opened (a file written before the key: as it is).

        Without a key, a sealed file cannot be opened: ``KeyMissing``.
        """
        if self.keyring is None:
            if data.startswith(b"SBSEALED1\n"):
                raise KeyMissing("a media file is sealed but [privacy] key is not set")
            return data
        return self.keyring.open_bytes(data)


__all__ = ["KeyMissing", "Keyring", "Privacy"]
