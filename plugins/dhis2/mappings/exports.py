"""Writing mapping files: the XLSX template and CSV/XLSX exports that import back unchanged.

A cell a spreadsheet would run as a formula (CSV/formula injection: ``=``, ``+``, ``-``, ``@``,
also after leading whitespace or in full width, a leading tab or CR) is written with a leading
``'`` by ``core.defuse_formula``, which the importer removes again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from core import defuse_formula

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

DATA_VALUE_NOTES = {
    "code": "required: the code the source system uses for this value",
    "what": "de (data element, the default) or ou (org unit: source_orgunit → destination_orgunit)",
    "name": "optional: a label",
    "description": "optional",
    "dataset": "required: data set uid; (code, dataset) is unique",
    "dataelement": "required: data element uid",
    "category_option_combo": "optional: category option combo uid (default combo when empty)",
    "category_option": "optional, informational: category option uid",
    "category_combo": "optional, informational: category combo uid",
    "instance_name": "optional: the DHIS2 instance this mapping is meant for",
    "source_name": "optional: the system the codes come from",
    "attribute_option_combo": "optional: attribute option combo uid",
    "source_orgunit": "ou rows: the source system's org unit code",
    "destination_orgunit": "ou rows: the DHIS2 org unit uid",
}
ORG_UNIT_NOTES = {
    "code": "required: the source system's code of the place",
    "org_unit": "required: the DHIS2 org unit uid",
    "name": "optional: a label",
    "instance": "optional: the DHIS2 instance (empty: every instance); (code, instance) is unique",
    "source_name": "optional: the system the codes come from",
}


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]], *, with_header: bool = True) -> str:
    """CSV text of ``rows`` (neutralised), optionally headed by ``header``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if with_header:
        writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else defuse_formula(v) for v in row])
    return out.getvalue()


def workbook(header: Sequence[str], rows: Iterable[Sequence[Any]], *, notes: dict[str, str] | None = None) -> bytes:
    """An XLSX file: the header and rows on the first sheet, column notes on a second one."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Mappings")
    sheet.append(list(header))
    for row in rows:
        sheet.append([defuse_formula(v) for v in row])
    if notes:
        help_sheet = book.create_sheet("Columns")
        help_sheet.append(["column", "meaning"])
        for name in header:
            help_sheet.append([name, notes.get(name, "")])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def template(header: Sequence[str], notes: dict[str, str]) -> bytes:
    """An empty mapping file with a bold header and the meaning of each column."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Mappings"
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for index, name in enumerate(header, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = max(14, len(name) + 4)
    help_sheet = book.create_sheet("Columns")
    help_sheet.append(["column", "meaning"])
    for name in header:
        help_sheet.append([name, notes.get(name, "")])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
