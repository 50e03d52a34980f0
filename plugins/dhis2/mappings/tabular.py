"""Reading an uploaded mapping file: CSV or XLSX, told apart by content, never by file name.

The result is a header and rows of trimmed strings (``None`` for an empty cell), each with
the row number a spreadsheet shows, so that every later error names its row and column.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from core import defuse_formula
from plugins.dhis2.mappings.xlsx_rows import sheet_rows

# A workbook that inflates past this is refused before it is parsed (a "zip bomb").
MAX_UNCOMPRESSED_BYTES = 512 * 1024 * 1024


class FileProblem(Exception):
    """The upload is not a readable CSV or XLSX file (``status`` 413, 415 or 422)."""

    def __init__(self, message: str, status: int = 422, *, row: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.row = row
        self.column = column


@dataclass
class Cell:
    """A cell the file itself makes invalid (a formula), reported with the row's other errors."""

    problem: str


CellValue = str | Cell | None


@dataclass
class Table:
    """What the file held: its format, its header cells and its non-blank rows."""

    format: str
    header: list[str | None]
    rows: list[tuple[int, list[CellValue]]]


def column_letter(index: int) -> str:
    """``0`` → ``A``, ``26`` → ``AA``: the spreadsheet name of a 0-based column."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def detect_format(data: bytes) -> str:
    """``"xlsx"`` or ``"csv"``; raises ``FileProblem`` for anything else."""
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise FileProblem("the file is empty", row=1)
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile as err:
            raise FileProblem("the file looks like an XLSX workbook but is damaged (not a valid ZIP)", 422) from err
        if "xl/workbook.xml" in names:
            return "xlsx"
        if "content.xml" in names and "mimetype" in names:
            raise FileProblem("this is an OpenDocument spreadsheet: save it as .xlsx or CSV", 415)
        raise FileProblem("this is a ZIP archive, not an XLSX workbook or a CSV file", 415)
    if data.startswith(b"%PDF"):
        raise FileProblem("this is a PDF document, not a CSV or XLSX file", 415)
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise FileProblem(
            "this is a legacy Excel .xls file or a password-protected workbook: save it as .xlsx or CSV", 415
        )
    head = data[:8192]
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileProblem("this is a binary file, not a CSV or XLSX file", 415)
    return "csv"


def read_table(data: bytes, *, max_rows: int) -> Table:
    """Parse ``data`` (CSV or XLSX) into a ``Table``; raises ``FileProblem``."""
    kind = detect_format(data)
    rows = _xlsx_rows(data) if kind == "xlsx" else _csv_rows(data)
    header: list[str | None] | None = None
    body: list[tuple[int, list[CellValue]]] = []
    for number, cells in rows:
        if all(c is None for c in cells):
            continue
        if header is None:
            header = [c if isinstance(c, str) else None for c in cells]
            continue
        if len(body) >= max_rows:
            raise FileProblem(f"the file has more than {max_rows} rows: split it into several files", 413, row=number)
        body.append((number, cells))
    if header is None:
        raise FileProblem("the file is empty", row=1)
    if not body:
        raise FileProblem("the file has a header row but no rows of mappings below it", row=2)
    return Table(kind, header, body)


def clean(value: Any) -> CellValue:
    """One cell as text: trimmed, ``None`` when empty; numbers as a person typed them."""
    if value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, Decimal):
        text = format(value.normalize(), "f")
    elif isinstance(value, datetime | date | time):
        text = value.isoformat()
    elif isinstance(value, str):
        text = value
    else:  # openpyxl's ArrayFormula and the like
        return Cell("formulas are not accepted: enter the value itself")
    text = text.strip().replace("\u00a0", " ").strip()
    if not text:
        return None
    if text.startswith("="):
        return Cell("formulas are not accepted (the cell starts with '='): enter the value itself")
    # Exports prefix a quote to cells a spreadsheet would run as a formula (core.defuse_formula);
    # reading removes it again, exactly where it was added, so an exported file imports unchanged.
    return text[1:] if text.startswith("'") and defuse_formula(text[1:]) == text else text


def _decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # What Excel on Windows writes for "CSV (Comma delimited)".
        return data.decode("cp1252")
    except UnicodeDecodeError as err:
        raise FileProblem("the file is neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8", 415) from err


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[CellValue]]]:
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    try:
        dialect: Any = csv.Sniffer().sniff(first_line, delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=False)
    number = 0
    try:
        for record in reader:
            number += 1
            yield number, [clean(cell) for cell in record]
    except csv.Error as err:
        raise FileProblem(f"the CSV cannot be read: {err}", row=number + 1) from err


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[CellValue]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        inflated = sum(info.file_size for info in archive.infolist())
    if inflated > MAX_UNCOMPRESSED_BYTES:
        raise FileProblem("the workbook is too large once uncompressed", 413)
    try:
        rows = list(sheet_rows(data))
    except Exception:  # noqa: BLE001 - a workbook the quick reader does not know: openpyxl reads it
        rows = None
    if rows is not None:
        for number, values in rows:
            yield number, [clean(v) for v in values]
        return
    yield from _openpyxl_rows(data)


def _openpyxl_rows(data: bytes) -> Iterator[tuple[int, list[CellValue]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as err:  # openpyxl raises many types for damaged files
        raise FileProblem(f"the workbook cannot be read: {type(err).__name__}: {err}", 422) from err
    try:
        if not workbook.worksheets:
            raise FileProblem("the workbook has no worksheet", row=1)
        # The first sheet holds the mappings (as in dhis2gw); others (instructions) are ignored.
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # rows as the XML has them, not as a (forged) dimension claims
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [clean(v) for v in values]
    except FileProblem:
        raise
    except Exception as err:
        raise FileProblem(f"the workbook cannot be read: {type(err).__name__}: {err}", 422) from err
    finally:
        workbook.close()
