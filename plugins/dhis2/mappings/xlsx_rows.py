"""The rows of a workbook's first sheet, streamed straight from its XML.

openpyxl turns every cell into objects (its inline strings, which it also writes, through
its descriptor machinery) and takes about ten times as long as the import's every other
step together. This reader only resolves what a mapping file holds: shared and inline
strings, numbers, booleans, error values, dates (by their number format), and formulas,
which it reports as such. ``tabular`` falls back to openpyxl if a workbook surprises it.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Uploaded XML: expat 2.4.1 and later (bundled with supported Pythons) refuse entity
# expansion attacks and ElementTree fetches no external entity or DTD; the ZIP's inflated
# size is bounded by the caller.
from xml.etree.ElementTree import Element, fromstring, iterparse  # noqa: S405

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
# Cells further right share one last slot: enough to report "a value beyond the header",
# and a sparse cell at XFD cannot make every row 16,384 cells long.
MAX_COLUMNS = 256


@dataclass(frozen=True)
class Formula:
    """A cell holding a formula (its text, for the message)."""

    text: str


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name]


def _text(element: Element) -> str:
    """All ``<t>`` text of a string item, rich-text runs included, phonetic runs left out."""
    parts: list[str] = []
    for child in element:
        name = _local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(t.text or "" for t in _children(child, "t"))
    return "".join(parts)


def _column(letters: str) -> int:
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - 64
    return index - 1


def _first_sheet(archive: zipfile.ZipFile) -> tuple[str, bool]:
    """The path of the first worksheet, and whether the workbook counts dates from 1904."""
    root = _parse(archive, "xl/workbook.xml")
    date1904 = any(p.get("date1904") in ("1", "true") for p in root.iter() if _local(p.tag) == "workbookPr")
    sheets = [s for s in root.iter() if _local(s.tag) == "sheet"]
    if not sheets:
        raise ValueError("the workbook has no sheet")
    rel_id = sheets[0].get(_REL)
    rels = _parse(archive, "xl/_rels/workbook.xml.rels")
    target = next(r.get("Target", "") for r in rels if r.get("Id") == rel_id)
    path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
    return path, date1904


def _parse(archive: zipfile.ZipFile, name: str) -> Element:
    return fromstring(archive.read(name))  # noqa: S314 - see the import


def _shared_strings(archive: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in archive.namelist():
        return []
    strings: list[str] = []
    with archive.open("xl/sharedStrings.xml") as stream:
        for _, element in iterparse(stream):  # noqa: S314 - see the import
            if _local(element.tag) == "si":
                strings.append(_text(element))
                element.clear()
    return strings


def _date_styles(archive: zipfile.ZipFile) -> set[int]:
    """Indexes of the cell formats that show a number as a date or time."""
    if "xl/styles.xml" not in archive.namelist():
        return set()
    root = _parse(archive, "xl/styles.xml")
    custom = {int(f.get("numFmtId", -1)): f.get("formatCode", "") for f in root.iter() if _local(f.tag) == "numFmt"}
    formats = next((e for e in root if _local(e.tag) == "cellXfs"), None)
    dates: set[int] = set()
    for index, xf in enumerate(_children(formats, "xf") if formats is not None else []):
        number_format = int(xf.get("numFmtId", 0))
        code = custom.get(number_format, BUILTIN_FORMATS.get(number_format, "General"))
        if is_date_format(code):
            dates.add(index)
    return dates


class _SheetReader:
    """Cell values of one sheet; tag names are compared whole (the sheet's namespace is learnt once)."""

    def __init__(self, namespace: str, shared: list[str], dates: set[int], epoch: Any) -> None:
        self.row, self.cell = namespace + "row", namespace + "c"
        self.f, self.v, self.inline = namespace + "f", namespace + "v", namespace + "is"
        self.shared, self.dates, self.epoch = shared, dates, epoch
        self.columns: dict[str, int] = {}

    def column(self, reference: str, position: int) -> int:
        letters = reference.rstrip("0123456789")
        index = self.columns.get(letters)
        if index is None:
            index = self.columns[letters] = _column(letters) if letters.isalpha() else -1
        return index if index >= 0 else position

    def values(self, row: Element) -> list[Any]:
        values: list[Any] = []
        position = 0
        for cell in row:
            if cell.tag != self.cell:
                continue
            reference = cell.get("r")
            index = self.column(reference, position) if reference else position
            position = index + 1
            index = min(index, MAX_COLUMNS)
            if index >= len(values):
                values.extend([None] * (index + 1 - len(values)))
            values[index] = self.value(cell)
        return values

    def value(self, cell: Element) -> Any:
        kind = cell.get("t", "n")
        raw: str | None = None
        for child in cell:
            tag = child.tag
            if tag == self.f:
                return Formula(child.text or "")
            if tag == self.v:
                raw = child.text
            elif tag == self.inline:
                return _text(child)
        if raw is None:
            return None
        if kind == "s":
            return self.shared[int(raw)]
        if kind in ("str", "inlineStr", "e", "d"):
            return raw
        if kind == "b":
            return raw.strip() == "1"
        number = float(raw)
        if self.dates and int(cell.get("s", 0)) in self.dates:
            return from_excel(number, self.epoch)
        return int(number) if number.is_integer() and "." not in raw and "E" not in raw.upper() else number


def sheet_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    """``(row number, cell values)`` of the first sheet's non-empty rows, in order."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        path, date1904 = _first_sheet(archive)
        shared = _shared_strings(archive)
        dates = _date_styles(archive)
        epoch = CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900
        reader: _SheetReader | None = None
        number = 0
        with archive.open(path) as stream:
            for _, element in iterparse(stream):  # noqa: S314 - see the import
                if reader is None:
                    tag = element.tag
                    reader = _SheetReader(
                        tag[: tag.index("}") + 1] if tag.startswith("{") else "", shared, dates, epoch
                    )
                if element.tag != reader.row:
                    continue
                number = int(element.get("r", number + 1))
                values = reader.values(element)
                element.clear()
                yield number, values
