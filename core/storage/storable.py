"""Text as the database can store it: no NUL, no lone surrogate.

PostgreSQL's text and jsonb cannot hold U+0000, and no UTF-8 column (PostgreSQL's or SQLite's)
can hold a UTF-16 surrogate (U+D800-U+DFFF: what ``json.loads`` makes of a lone ``"\\ud800"``).
Either one fails the whole statement, and with it every other row of a batch (an audit batch,
an ingest batch, a batch of device readings). So at the storage boundary each such character
becomes U+FFFD, the replacement character, whoever wrote the value:

- every statement run through SQLAlchemy (core's and plugins' tables, and the parameters of
  every query, so a filter holding a NUL matches what was stored for it): ``storable_parameters``,
  listened to on each engine;
- every JSON column written through SQLAlchemy: ``storable_json``, each engine's JSON serializer;
- the raw PostgreSQL batch statements (ingest, delivery outcomes): ``core.storage.db.json_rows``;
- a plugin that writes JSON text of its own: ``storable`` (public as ``core.storable``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# An escaped NUL in JSON text (one not itself preceded by an escaped backslash).
_ESCAPED_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def unstorable(text: str) -> bool:
    """Whether ``text`` holds a character no column can store (the common case costs two scans)."""
    return "\x00" in text or (not text.isascii() and _SURROGATE.search(text) is not None)


def storable_text(text: str) -> str:
    """``text`` with each NUL and each surrogate replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text) if unstorable(text) else text


def storable(value: Any) -> Any:
    """``value`` with every string in it made storable: dict keys and values, list and tuple items.

    For a plugin that builds JSON text or a raw statement of its own; values written through
    SQLAlchemy (columns, JSON columns, query parameters) are made storable without it.
    """
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, Mapping):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def storable_json(value: Any) -> str:
    """A JSON column's value as JSON text it can store (each engine's ``json_serializer``).

    ``ensure_ascii=False`` leaves lone surrogates as characters (not escapes) to find and
    replace; a NUL is always escaped, as ``\\u0000``, which PostgreSQL's jsonb refuses too.
    """
    text = json.dumps(value, ensure_ascii=False)
    if "\\u0000" in text:
        text = storable_escapes(text)
    if not text.isascii() and _SURROGATE.search(text) is not None:
        text = _SURROGATE.sub(REPLACEMENT, text)
    return text


def storable_escapes(json_text: str) -> str:
    """JSON text with each escaped NUL (``\\u0000``) written as an escaped U+FFFD instead."""
    return _ESCAPED_NUL.sub(r"\1\\ufffd", json_text) if "\\u0000" in json_text else json_text


def _strings(row: Any) -> list[str]:
    return [v for v in (row.values() if isinstance(row, Mapping) else row) if type(v) is str]


def _storable_row(row: Any) -> Any:
    if isinstance(row, Mapping):
        return {k: storable_text(v) if type(v) is str else v for k, v in row.items()}
    made = [storable_text(v) if type(v) is str else v for v in row]
    return made if isinstance(row, list) else tuple(made)


def storable_parameters(
    _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool
) -> tuple[str, Any]:
    """A ``before_cursor_execute`` listener: the statement's string parameters made storable.

    Rows are copied only when one of them needs it.
    """
    if not parameters:
        return statement, parameters
    # One scan of all the text at once (a batch of 1,000 audit rows: one join and two searches).
    if executemany:
        rows: Sequence[Any] = parameters
        values = (
            (v for row in rows for v in row.values())
            if isinstance(rows[0], Mapping)
            else (v for row in rows for v in row)
        )
        if unstorable("".join([v for v in values if type(v) is str])):
            return statement, [_storable_row(row) for row in rows]
    elif unstorable("".join(_strings(parameters))):
        return statement, _storable_row(parameters)
    return statement, parameters
