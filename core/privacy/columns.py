"""Column types that seal personal data at the storage boundary (docs/privacy.md, docs/plugins.md).

The keyring lives on the engine's dialect (``Database`` puts it there), not in a module global:
two gateways with different keys in one process each seal with their own. Without a key the
types store and read values as they are, so nothing changes for a gateway without one.

- ``SealedText``: text a person wrote or receives (AES-GCM).
- ``SealedJSON``: a JSON document holding such content (its JSON text sealed; stored as a JSON
  string, so the column stays JSON/jsonb).
- ``ParticipantRef``: a participant identifier (phone number, e-mail address, device subject),
  sealed deterministically so ``==``, ``IN``, a unique index and ``GROUP BY`` keep working.

Each reads back what was stored before a key was configured as it is. The raw PostgreSQL
batch statements, which bypass SQLAlchemy's types, call ``seal_row``/``open_row``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

from core.privacy.keys import CONTENT, IDENTIFIER, KeyMissing, Keyring
from core.storage.storable import storable_json

KEYRING_ATTRIBUTE = "switchboard_keyring"


def keyring_of(dialect: Dialect) -> Keyring | None:
    """The keyring of the engine this dialect belongs to (``None``: personal data in clear)."""
    return getattr(dialect, KEYRING_ATTRIBUTE, None)


def set_keyring(dialect: Dialect, keyring: Keyring | None) -> None:
    setattr(dialect, KEYRING_ATTRIBUTE, keyring)


def _json_text(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):  # a lone surrogate, an integer beyond 64 bits
        return storable_json(value).encode()


class SealedText(sa.TypeDecorator[str]):
    """Text sealed with the data key (AES-GCM) when one is configured."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        keyring = keyring_of(dialect)
        if value is None or keyring is None:
            return value
        return keyring.seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        keyring = keyring_of(dialect)
        if value is None or keyring is None:
            return value
        return keyring.open(value)


class SealedJSON(sa.TypeDecorator[Any]):
    """A JSON document sealed with the data key when one is configured (stored as a JSON string)."""

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else sa.JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        keyring = keyring_of(dialect)
        if value is None or keyring is None or value == {} or value == []:
            return value  # an empty document says nothing of anyone: not worth a seal
        return keyring.seal(_json_text(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        keyring = keyring_of(dialect)
        if keyring is None or not isinstance(value, str) or not value.startswith(CONTENT):
            return value
        return json.loads(keyring.open(value))


class ParticipantRef(sa.TypeDecorator[str]):
    """A participant identifier, sealed deterministically (AES-SIV) when a key is configured.

    Compare it with ``gateway.privacy.match(column, value)``: during a key rotation that clause
    also matches the forms sealed with the previous keys (a plain ``==`` matches the current one).
    """

    impl = sa.String
    cache_ok = True

    def __init__(self, length: int = 512) -> None:
        super().__init__(length)

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        keyring = keyring_of(dialect)
        if value is None or keyring is None:
            return value
        if value.startswith(IDENTIFIER):
            # A stored form already (``Privacy.match`` passes each key's): kept when it opens.
            try:
                keyring.open(value)
            except KeyMissing:
                pass
            else:
                return value
        return keyring.seal_identifier(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        keyring = keyring_of(dialect)
        if value is None or keyring is None:
            return value
        return keyring.open(value)


SEALED_TYPES = (SealedText, SealedJSON, ParticipantRef)


def _sealed_type(column: sa.ColumnElement[Any]) -> SealedText | SealedJSON | ParticipantRef:
    sealed = column.type
    if not isinstance(sealed, SEALED_TYPES):
        raise TypeError(f"{column} does not hold personal data (not SealedText, SealedJSON or ParticipantRef)")
    return sealed


def open_value(column: sa.ColumnElement[Any], value: Any, dialect: Dialect) -> Any:
    """One value of a sealed column, read by a raw statement, opened."""
    return _sealed_type(column).process_result_value(value, dialect)


def sealed_columns(table: sa.Table) -> list[sa.Column[Any]]:
    """The columns of ``table`` that hold personal data (of one of the types above)."""
    found = _SEALED_COLUMNS.get(table)
    if found is None or len(found[0]) != len(table.columns):
        found = (list(table.columns), [c for c in table.columns if isinstance(c.type, SEALED_TYPES)])
        _SEALED_COLUMNS[table] = found
    return found[1]


# Per table, its columns when last looked at and the sealed ones among them (the raw batches
# ask once per row). Tables are module-level definitions: the cache only grows with them.
_SEALED_COLUMNS: dict[sa.Table, tuple[list[sa.Column[Any]], list[sa.Column[Any]]]] = {}


def seal_row(table: sa.Table, row: Mapping[str, Any], dialect: Dialect, **also: Any) -> dict[str, Any]:
    """A row for a raw statement (``json_rows``) with its personal data sealed, as SQLAlchemy
    would have sealed it; ``also``: keys that are not columns, by the column type to seal them as
    (``participant=conversations.c.participant``)."""
    out = dict(row)
    if keyring_of(dialect) is None:
        return out
    for column in sealed_columns(table):
        if column.name in out:
            out[column.name] = _sealed_type(column).process_bind_param(out[column.name], dialect)
    for name, column in also.items():
        if name in out:
            out[name] = _sealed_type(column).process_bind_param(out[name], dialect)
    return out


def open_row(table: sa.Table, row: Mapping[str, Any], dialect: Dialect) -> dict[str, Any]:
    """A row read by a raw statement with its personal data opened."""
    out = dict(row)
    if keyring_of(dialect) is None:
        return out
    for column in sealed_columns(table):
        if column.name in out:
            out[column.name] = _sealed_type(column).process_result_value(out[column.name], dialect)
    return out
