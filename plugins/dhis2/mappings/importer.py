"""Importing a mapping file: every row validated, then all rows written in one transaction, or none.

Data-value files use the dhis2gw layout (``code, what, name, description, dataset,
dataelement, category_option_combo, category_option, category_combo, instance_name,
source_name``, plus ``attribute_option_combo``); a dhis2gw row with ``what = ou`` maps an
org unit (``source_orgunit`` → ``destination_orgunit``). Org-unit files have ``code,
org_unit, name, instance, source_name``. Headers are matched case-insensitively, trimmed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from plugins.dhis2.mappings import store
from plugins.dhis2.mappings.tabular import Cell, Table, column_letter
from plugins.dhis2.uids import is_uid

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

# The dhis2gw header, in its order, then ours.
DATA_VALUE_HEADER = (
    "code",
    "what",
    "name",
    "description",
    "dataset",
    "dataelement",
    "category_option_combo",
    "category_option",
    "category_combo",
    "instance_name",
    "source_name",
    "attribute_option_combo",
    "source_orgunit",
    "destination_orgunit",
)
ORG_UNIT_HEADER = ("code", "org_unit", "name", "instance", "source_name")

_ALIASES = {
    "data_set": "dataset",
    "data_element": "dataelement",
    "categoryoptioncombo": "category_option_combo",
    "coc": "category_option_combo",
    "attributeoptioncombo": "attribute_option_combo",
    "aoc": "attribute_option_combo",
    "categoryoption": "category_option",
    "categorycombo": "category_combo",
    "orgunit": "org_unit",
    "organisation_unit": "org_unit",
    "organisationunit": "org_unit",
    "dest_orgunit": "destination_orgunit",
}
_ORG_UNIT_ALIASES = {"instance_name": "instance", "source_orgunit": "code", "destination_orgunit": "org_unit"}
_LIMITS = {"code": 255, "name": 255, "description": 10_000, "instance_name": 100, "source_name": 100, "instance": 100}
MAX_REPORTED_ERRORS = 500
MAX_REPORTED_CHANGES = 1000


@dataclass
class Parsed:
    """The validated rows of a file, by table, and every problem found, by row and column."""

    data_values: list[dict[str, Any]] = field(default_factory=list)
    org_units: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def header_name(cell: str | None, *, org_units: bool) -> str | None:
    """A header cell as a column name: lower case, trimmed, spaces and dashes as underscores."""
    if cell is None:
        return None
    name = re.sub(r"[\s\-]+", "_", cell.strip().lower())
    name = _ALIASES.get(name, name)
    if org_units:
        name = _ORG_UNIT_ALIASES.get(name, name)
    return name


class _Row:
    """One row's cells by column name, collecting its errors with row and column."""

    def __init__(self, number: int, cells: Sequence[Any], columns: dict[str, int], errors: list[dict[str, Any]]):
        self.number = number
        self.cells = cells
        self.columns = columns
        self.errors = errors
        self.ok = True

    def error(self, column: str, message: str) -> None:
        index = self.columns.get(column)
        cell = f"{column_letter(index)}{self.number}" if index is not None else None
        self.errors.append({"row": self.number, "column": column, "cell": cell, "message": message})
        self.ok = False

    def text(self, column: str, *, required: bool = False) -> str | None:
        index = self.columns.get(column)
        value = self.cells[index] if index is not None and index < len(self.cells) else None
        if isinstance(value, Cell):
            self.error(column, value.problem)
            return None
        if value is None:
            if required:
                self.error(
                    column, "is required" if index is not None else "is required, but the file has no such column"
                )
            return None
        limit = _LIMITS.get(column)
        if limit is not None and len(value) > limit:
            self.error(column, f"is longer than {limit} characters")
            return None
        return str(value)

    def uid(self, column: str, *, required: bool = False) -> str | None:
        value = self.text(column, required=required)
        if value is not None and not is_uid(value):
            self.error(column, f"{value!r} is not a DHIS2 uid (a letter, then 10 letters or digits)")
            return None
        return value


def parse_rows(table: Table, *, org_units: bool) -> Parsed:
    """Validate every row of ``table`` as data-value mappings (dhis2gw layout) or org-unit mappings."""
    parsed = Parsed()
    columns: dict[str, int] = {}
    for index, cell in enumerate(table.header):
        name = header_name(cell, org_units=org_units)
        if name is None:
            continue
        if name in columns:
            parsed.errors.append(
                {
                    "row": 1,
                    "column": name,
                    "cell": f"{column_letter(index)}1",
                    "message": f"the column appears twice (also in column {column_letter(columns[name])})",
                }
            )
            continue
        columns[name] = index
    # No dataset column (dhis2gw's files may omit it): each mapping then holds for every data set.
    required = ("code", "org_unit") if org_units else ("code", "dataelement")
    missing = [c for c in required if c not in columns]
    for name in missing:
        parsed.errors.append({"row": 1, "column": name, "cell": None, "message": "required column is missing"})
    if parsed.errors:
        return parsed
    width = len(table.header)
    seen_values: dict[tuple[str, str], int] = {}
    seen_units: dict[tuple[str, str], int] = {}
    for number, cells in table.rows:
        row = _Row(number, cells, columns, parsed.errors)
        extra = [i for i in range(width, len(cells)) if cells[i] is not None]
        if extra:
            row.errors.append(
                {
                    "row": number,
                    "column": None,
                    "cell": f"{column_letter(extra[0])}{number}",
                    "message": f"the row has a value in column {column_letter(extra[0])}, beyond the header's "
                    f"{width} columns (an unquoted comma?)",
                }
            )
            row.ok = False
        what = "ou" if org_units else (row.text("what") or "de").lower()
        if what == "ou":
            item = _org_unit_row(row, dhis2gw=not org_units)
            if item is not None and _unique(row, seen_units, (item["code"], item["instance"]), "code", "instance"):
                parsed.org_units.append(item)
        elif what == "de":
            item = _data_value_row(row)
            if item is not None and _unique(row, seen_values, (item["code"], item["dataset"]), "code", "dataset"):
                parsed.data_values.append(item)
        else:
            row.error("what", f"{what!r} is not a kind of mapping: use de (data element) or ou (org unit)")
    return parsed


def _unique(row: _Row, seen: dict[tuple[str, str], int], key: tuple[str, str], *names: str) -> bool:
    first = seen.get(key)
    if first is not None:
        shown = ", ".join(f"{n} {v!r}" for n, v in zip(names, key, strict=True) if v)
        row.error(names[0], f"duplicate of row {first} (same {shown})")
        return False
    seen[key] = row.number
    return True


def _data_value_row(row: _Row) -> dict[str, Any] | None:
    item = {
        "_row": row.number,
        "code": row.text("code", required=True),
        # "" (no data set): the mapping applies to whatever data set a submission names.
        "dataset": row.uid("dataset") or "",
        "data_element": row.uid("dataelement", required=True),
        "category_option_combo": row.uid("category_option_combo"),
        "attribute_option_combo": row.uid("attribute_option_combo"),
        "category_option": row.uid("category_option"),
        "category_combo": row.uid("category_combo"),
        "name": row.text("name"),
        "description": row.text("description"),
        "instance_name": row.text("instance_name"),
        "source_name": row.text("source_name"),
    }
    return item if row.ok else None


def _org_unit_row(row: _Row, *, dhis2gw: bool) -> dict[str, Any] | None:
    if dhis2gw:
        # dhis2gw keeps org units in its one mapping table: source_orgunit → destination_orgunit.
        code = row.text("source_orgunit") or row.text("code", required=True)
        org_unit = row.uid("destination_orgunit", required=True)
        instance = row.text("instance_name")
    else:
        code = row.text("code", required=True)
        org_unit = row.uid("org_unit", required=True)
        instance = row.text("instance")
    item = {
        "_row": row.number,
        "_org_unit_column": "destination_orgunit" if dhis2gw else "org_unit",
        "code": code,
        "instance": instance or "",
        "org_unit": org_unit,
        "name": row.text("name"),
        "source_name": row.text("source_name"),
    }
    return item if row.ok else None


@dataclass
class Outcome:
    """What an import did (or, dry, would do) to one table."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    changes: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "changes": self.changes,
            "changes_truncated": self.created + self.updated > len(self.changes),
        }


async def apply(conn: AsyncConnection, kind: store.Kind, rows: list[dict[str, Any]], *, dry_run: bool) -> Outcome:
    """Compare ``rows`` with what is stored and write the new and changed ones (unless ``dry_run``)."""
    outcome = Outcome()
    stored = await store.existing(conn, kind, [(r[kind.key[0]], r[kind.key[1]]) for r in rows])
    to_write: list[dict[str, Any]] = []
    for row in rows:
        key = (row[kind.key[0]], row[kind.key[1]])
        old = stored.get(key)
        if old is None:
            outcome.created += 1
            change: dict[str, Any] = {"action": "create", "row": row["_row"], **{k: row[k] for k in kind.key}}
        else:
            changed = {f: {"from": getattr(old, f), "to": row[f]} for f in kind.fields if getattr(old, f) != row[f]}
            if not changed:
                outcome.unchanged += 1
                continue
            outcome.updated += 1
            change = {"action": "update", "row": row["_row"], "id": old.id, **{k: row[k] for k in kind.key}}
            change["fields"] = changed
        if len(outcome.changes) < MAX_REPORTED_CHANGES:
            outcome.changes.append(change)
        to_write.append(row)
    if not dry_run:
        await store.upsert(conn, kind, to_write)
    return outcome
