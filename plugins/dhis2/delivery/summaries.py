"""What DHIS2 answers to an import, in the shapes it has used over its versions.

``POST /api/dataValueSets`` answers an ImportSummary: bare before 2.38, wrapped in a
WebMessage from 2.38 on (``{"httpStatus", "status", "response": {"responseType":
"ImportSummary", …}}``, HTTP 409 when there are conflicts). ``/api/tracker`` answers an
ImportReport (``status``, ``validationReport``, ``stats``), also bare or wrapped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COUNTS = ("imported", "updated", "ignored", "deleted")
TRACKER_STATS = ("created", "updated", "deleted", "ignored", "total")


@dataclass
class ImportSummary:
    """An aggregate import's outcome, whichever shape it came in."""

    status: str  # SUCCESS | WARNING | ERROR
    counts: dict[str, int]
    conflicts: list[dict[str, Any]]
    rejected_indexes: list[int]
    description: str | None
    shape: str  # "webmessage" | "importsummary"
    message: str | None = None


@dataclass
class ImportReport:
    """A tracker import's outcome."""

    status: str  # OK | WARNING | ERROR
    stats: dict[str, int]
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None


def _ints(source: Any, keys: tuple[str, ...]) -> dict[str, int]:
    source = source if isinstance(source, dict) else {}
    return {k: int(source.get(k) or 0) for k in keys}


def _status(value: Any) -> str:
    status = str(value or "").upper()
    return "SUCCESS" if status in ("OK", "SUCCESS", "") else status


def import_summary(body: Any) -> ImportSummary | None:
    """The ImportSummary in ``body`` (WebMessage-wrapped or bare), or ``None`` if there is none."""
    if not isinstance(body, dict):
        return None
    inner = body.get("response")
    if isinstance(inner, dict) and (inner.get("responseType") == "ImportSummary" or "importCount" in inner):
        summary, shape, message = inner, "webmessage", body.get("message")
    elif body.get("responseType") == "ImportSummary" or "importCount" in body:
        summary, shape, message = body, "importsummary", None
    else:
        return None
    conflicts = [c for c in summary.get("conflicts") or [] if isinstance(c, dict)]
    status = _status(summary.get("status"))
    if status == "SUCCESS" and conflicts:
        status = "WARNING"  # some versions say SUCCESS beside conflicts
    return ImportSummary(
        status=status,
        counts=_ints(summary.get("importCount"), COUNTS),
        conflicts=conflicts,
        rejected_indexes=[i for i in summary.get("rejectedIndexes") or [] if isinstance(i, int)],
        description=summary.get("description"),
        shape=shape,
        message=message,
    )


def import_report(body: Any) -> ImportReport | None:
    """The tracker ImportReport in ``body`` (bare or in a WebMessage), or ``None``."""
    if not isinstance(body, dict):
        return None
    report = body
    inner = body.get("response")
    if isinstance(inner, dict) and ("validationReport" in inner or inner.get("responseType") == "ImportReport"):
        report = inner
    if "validationReport" not in report and "stats" not in report:
        return None
    validation = report.get("validationReport")
    if not isinstance(validation, dict):
        validation = {}
    return ImportReport(
        status=str(report.get("status") or "OK").upper(),
        stats=_ints(report.get("stats"), TRACKER_STATS),
        errors=[e for e in validation.get("errorReports") or [] if isinstance(e, dict)],
        warnings=[w for w in validation.get("warningReports") or [] if isinstance(w, dict)],
        message=report.get("message") if isinstance(report.get("message"), str) else body.get("message"),
    )


def web_message(body: Any) -> str | None:
    """The human message of a DHIS2 WebMessage error body, if ``body`` is one."""
    if isinstance(body, dict):
        for key in ("message", "devMessage"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])
    return None
