"""Mapping files as DHIS2 gateway users have them: the dhis2gw column layout, in CSV or XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook

from tests.fakes.dhis2_metadata import ANC_1ST, ANC_2ND, ANC_3RD, DATA_SET, FIXED, OUTREACH

DHIS2GW_HEADER = [
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
]

# Three codes of a facility report, mapped to ANC visits by place of service.
ROWS = [
    ["ANC1_FIXED", "de", "ANC 1st visit, fixed", "", DATA_SET, ANC_1ST, FIXED, "", "", "national", "hmis"],
    ["ANC1_OUTREACH", "de", "ANC 1st visit, outreach", "", DATA_SET, ANC_1ST, OUTREACH, "", "", "national", "hmis"],
    ["ANC2_FIXED", "de", "ANC 2nd visit, fixed", "", DATA_SET, ANC_2ND, FIXED, "", "", "national", "hmis"],
    ["ANC3", "de", "ANC 3rd visit", "", DATA_SET, ANC_3RD, "", "", "", "national", "hmis"],
]


def csv_bytes(rows: Iterable[Sequence[Any]], header: Sequence[str] = DHIS2GW_HEADER, *, delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def xlsx_bytes(rows: Iterable[Sequence[Any]], header: Sequence[str] = DHIS2GW_HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(data: bytes, name: str = "mappings.csv") -> dict[str, Any]:
    """``files=`` for an httpx request: the multipart field ``file``."""
    return {"file": (name, data, "application/octet-stream")}
