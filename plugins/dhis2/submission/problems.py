"""The error a submission raises when it cannot become DHIS2 data."""

from __future__ import annotations

from typing import Any


class InvalidSubmission(Exception):
    """The submission cannot be sent to DHIS2; ``errors`` say where (``field``) and why (``message``)."""

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


class NothingMapped(InvalidSubmission):
    """No value of the submission has a mapping: there is nothing to send (``errors`` name each code)."""
