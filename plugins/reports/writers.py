"""Writing report rows to a file as they come: CSV, XLSX (openpyxl's write-only mode) or JSON.

Nothing holds the whole report: each writer appends a chunk of rows to its file and forgets
them. Cells are made plain first (times as ISO text, ids as text, structures as JSON), and
text that a spreadsheet would run as a formula is defused with a leading quote (``core.defuse_formula``).
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Protocol

import orjson
from openpyxl import Workbook
from openpyxl.worksheet import _writer as _openpyxl_writer
from openpyxl.worksheet._writer import WorksheetWriter

from core import defuse_formula

FORMATS = ("csv", "xlsx", "json")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


def plain(value: Any) -> Any:
    """A cell every format can hold: None, bool, int, float or str."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


class RowWriter(Protocol):
    def write(self, rows: Sequence[Sequence[Any]]) -> None: ...

    def close(self) -> None: ...


class CsvWriter:
    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self._file: IO[str] = path.open("w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file)
        self._csv.writerow(columns)

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        self._csv.writerows([defuse_formula(plain(v)) for v in row] for row in rows)

    def close(self) -> None:
        self._file.close()


class XlsxWriter:
    """openpyxl's write-only mode keeps a sheet's rows in a file of their own until the book is
    saved, by default in the system's temporary directory, where a killed worker leaves it for
    good (clear text: docs/privacy.md). Here it goes beside the report's own part file, as
    ``<part>.sheet.part``, which the pick-up job removes with it."""

    def __init__(self, path: Path, columns: Sequence[str], title: str) -> None:
        self._path = path
        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet(title=title[:31] or "report")
        self.sheet_file = path.with_name(path.name + ".sheet.part")
        # The sheet's writer, made as openpyxl makes it on the first row but with our file; listed
        # where openpyxl removes it after saving (and at exit).
        writer = WorksheetWriter(self._sheet, out=str(self.sheet_file))
        _openpyxl_writer.ALL_TEMP_FILES.append(writer.out)
        writer.write_top()
        self._sheet._writer = writer
        self._sheet.append(list(columns))

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        for row in rows:
            # Formula-like text is kept as text, not as a formula, by defusing it here too.
            self._sheet.append([defuse_formula(plain(v)) for v in row])

    def close(self) -> None:
        self._book.save(self._path)


class JsonWriter:
    """``{"type": …, "params": …, "columns": […], "rows": [{column: value}, …]}``, written row by row."""

    def __init__(self, path: Path, columns: Sequence[str], meta: dict[str, Any]) -> None:
        self._file: IO[bytes] = path.open("wb")
        self._columns = list(columns)
        self._first = True
        head = orjson.dumps({**meta, "columns": self._columns})
        self._file.write(head[:-1] + b',"rows":[')

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        parts = []
        for row in rows:
            parts.append(
                (b"" if self._first else b",") + orjson.dumps(dict(zip(self._columns, map(plain, row), strict=True)))
            )
            self._first = False
        self._file.write(b"".join(parts))

    def close(self) -> None:
        self._file.write(b"]}")
        self._file.close()


def open_writer(fmt: str, path: Path, columns: Sequence[str], meta: dict[str, Any]) -> RowWriter:
    """A writer of ``fmt`` (one of ``FORMATS``) into ``path``, the header already written."""
    if fmt == "csv":
        return CsvWriter(path, columns)
    if fmt == "xlsx":
        return XlsxWriter(path, columns, str(meta.get("type", "report")))
    return JsonWriter(path, columns, meta)
