"""Personal data: how participant identifiers are stored and looked up (docs/privacy.md).

``Gateway.privacy`` is the one place that knows whether a data key is configured. Code that
filters by a participant (an API filter, an erasure, an export, a plugin's own table) asks it
for the clause instead of comparing the column with the value, so the same query keeps
working when identifiers are stored as a keyed hash.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from core.config.settings import PrivacySettings


class Privacy:
    """Participant identifiers as stored, and the clause that finds them."""

    def __init__(self, settings: PrivacySettings) -> None:
        self.settings = settings

    @property
    def enabled(self) -> bool:
        """Whether a data key is configured (personal data encrypted at rest)."""
        return bool(self.settings.key)

    def lookup_values(self, participant: str) -> list[str]:
        """Every stored form ``participant`` may have (one per key still in use)."""
        return [participant]

    def match(self, column: Any, participant: str) -> sa.ColumnElement[bool]:
        """A clause true where ``column`` holds ``participant`` (in any of its stored forms)."""
        values = self.lookup_values(participant)
        clause: sa.ColumnElement[bool] = column == values[0] if len(values) == 1 else column.in_(values)
        return clause
