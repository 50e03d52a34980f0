"""The ``dhis2_imports`` report type: what DHIS2 made of each submission, for the reports plugin.

One row per delivery attempt that DHIS2 answered (an HTTP status came back), oldest first:
its import status and counts, its conflicts, the HTTP status and the attempt's error. An
aggregate delivery's chunks add up in its last attempt's detail, so a submission sent in
chunks over several attempts has one row with the counts of the whole set (the attempts
before it, cut short by a failing chunk or their time, show the HTTP status and error only).
Attempts that never reached DHIS2 (a timeout, a refused connection) are left out. Read from
``core.exports.delivery_attempts_of``, a keyset stream: the report never holds its rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from core import ReportType, Unprocessable, check_period, exports, period_of
from plugins.dhis2.delivery.summaries import COUNTS
from plugins.dhis2.settings import destination_name

if TYPE_CHECKING:
    from core import Gateway

PREFIX = destination_name("")
# Conflicts written out in a row's ``conflicts`` cell (``conflicts_total`` has the count).
SHOWN_CONFLICTS = 20
MAX_CELL = 32_000  # under XLSX's 32,767 characters per cell
COLUMNS = (
    "time",
    "instance",
    "type",
    "message_id",
    "external_id",
    "delivery_id",
    "attempt",
    "outcome",
    "dhis2_status",
    *COUNTS,
    "conflicts_total",
    "conflicts",
    "http_status",
    "error",
)


def conflict_text(conflict: dict[str, Any]) -> str:
    """``property object: value [errorCode]`` of an aggregate conflict, or ``trackerType uid: message
    [errorCode]`` of a tracker error report; the parts DHIS2 left out are left out."""
    where = " ".join(
        str(conflict[k]) for k in ("property", "object", "trackerType", "uid") if conflict.get(k) not in (None, "")
    )
    said = conflict.get("value") or conflict.get("message") or ""
    code = f" [{conflict['errorCode']}]" if conflict.get("errorCode") else ""
    return f"{where}: {said}{code}" if where else f"{said}{code}"


def conflicts_cell(conflicts: Sequence[Any], total: int) -> str:
    shown = [conflict_text(c) for c in conflicts[:SHOWN_CONFLICTS] if isinstance(c, dict)]
    more = total - len(shown)
    text = "; ".join(shown) + (f"; … {more} more" if more > 0 and shown else "")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def import_row(attempt: dict[str, Any]) -> list[Any] | None:
    """The report's row for one attempt (``exports.delivery_attempts_of``), or None if DHIS2 never answered it."""
    detail = attempt["detail"] if isinstance(attempt["detail"], dict) else {}
    if attempt["status_code"] is None and "status" not in detail:
        return None
    kind = detail.get("type")
    status = detail.get("status")
    counts: list[Any] = [None] * len(COUNTS)
    conflicts: list[Any] = []
    total: int | None = None
    if status is not None and kind == "tracker":
        stats = detail.get("stats") or {}
        counts = [stats.get("created" if k == "imported" else k) for k in COUNTS]
        conflicts = list(detail.get("errors") or [])
        total = int(detail.get("errors_total", len(conflicts)))
    elif status is not None:
        found = detail.get("import_count") or {}
        counts = [found.get(k) for k in COUNTS]
        conflicts = list(detail.get("conflicts") or [])
        total = int(detail.get("conflicts_total", len(conflicts)))
    return [
        attempt["started_at"],
        attempt["destination"].removeprefix(PREFIX),
        kind,
        attempt["message_id"],
        attempt["external_id"],
        attempt["delivery_id"],
        attempt["number"],
        attempt["outcome"],
        status,
        *counts,
        total,
        conflicts_cell(conflicts, total or 0) if total is not None else None,
        attempt["status_code"],
        attempt["error"],
    ]


class ImportResults(ReportType):
    """Per submission, what DHIS2 imported: ``params`` are a period and optionally one ``instance``."""

    name = "dhis2_imports"
    title = "DHIS2 import results"
    columns: ClassVar[tuple[str, ...]] = COLUMNS

    def __init__(self, instances: Sequence[str]) -> None:
        self.instances = list(instances)

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        checked: dict[str, Any] = {}
        try:
            checked = check_period(params, others=("instance",))
        except Unprocessable as err:
            errors += err.errors or []
        instance = params.get("instance")
        if instance is not None and (not isinstance(instance, str) or instance not in self.instances):
            known = ", ".join(self.instances) or "none is configured"
            errors.append({"field": "params.instance", "message": f"not a configured DHIS2 instance ({known})"})
        if errors:
            raise Unprocessable("invalid params", errors=errors)
        return {**checked, "instance": instance} if instance is not None else checked

    async def rows(self, gateway: Gateway, params: dict[str, Any]) -> AsyncIterator[Sequence[Any]]:
        instances = [params["instance"]] if params.get("instance") else self.instances
        if not instances:
            return  # no instance configured: nothing to read (and no empty IN to scan the attempts with)
        destinations = [destination_name(i) for i in instances]
        async for attempt in exports.delivery_attempts_of(gateway.db, *period_of(params), destinations=destinations):
            row = import_row(attempt)
            if row is not None:
                yield row
