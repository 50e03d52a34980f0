"""Sending a dataValueSet to ``POST /api/dataValueSets``, in chunks, and judging the import summaries.

A large set goes in chunks (``chunk_size`` values each; ``completeDate`` only with the
last, so the set is not marked complete before all of it arrived). Each chunk's summary
adds to one outcome: SUCCESS → delivered, with the import counts; WARNING or ERROR (409,
conflicts) → dead at once, with the counts and every conflict beside the value it is
about. A chunk that fails on the way (5xx, timeout) is retried; the retry resumes after
the chunks already imported, which it learns from the previous attempt's detail. So does
an attempt that ran out of time (its lease) with chunks still to send.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import httpx

from core import DeliveryError, DeliveryInfo, DeliveryResult
from plugins.dhis2.client import DHIS2Client
from plugins.dhis2.delivery.answers import excerpt, json_body, refuse
from plugins.dhis2.delivery.summaries import COUNTS, ImportSummary, import_summary

MAX_CONFLICTS = 1000
MAX_VALUES_PER_CONFLICT = 20
# Values of the dataValueSet an attempt records as sent (its first ones; the count is always there).
MAX_VALUES_RECORDED = 1000
_SEVERITY = {"SUCCESS": 0, "WARNING": 1, "ERROR": 2}


def chunks(data_value_set: dict[str, Any], size: int) -> list[dict[str, Any]]:
    """The requests a dataValueSet is sent in: the same header, ``size`` values each."""
    values = data_value_set["dataValues"]
    header = {k: v for k, v in data_value_set.items() if k not in ("dataValues", "completeDate")}
    parts = [values[i : i + size] for i in range(0, len(values), size)] or [[]]
    out = [{**header, "dataValues": part} for part in parts]
    if "completeDate" in data_value_set:
        out[-1] = {**header, "completeDate": data_value_set["completeDate"], "dataValues": parts[-1]}
    return out


def sent_record(data_value_set: dict[str, Any], codes: Sequence[str | None]) -> dict[str, Any]:
    """What an attempt sent, as resolved for it: the dataValueSet, each value with its source code.

    Capped at ``MAX_VALUES_RECORDED`` values (``truncated`` says so), so a large set does not
    make every attempt's detail large.
    """
    values = data_value_set["dataValues"]
    header = {k: v for k, v in data_value_set.items() if k != "dataValues"}
    shown = [
        {**({"code": codes[i]} if i < len(codes) and codes[i] else {}), **v}
        for i, v in enumerate(values[:MAX_VALUES_RECORDED])
    ]
    return {**header, "dataValues": shown, "truncated": len(values) > MAX_VALUES_RECORDED}


class _Progress:
    """What the chunks sent so far added up to (carried from attempt to attempt in the detail)."""

    def __init__(self, total: int, previous: dict[str, Any] | None) -> None:
        self.total = total
        saved = (previous or {}).get("progress")
        if isinstance(saved, dict) and saved.get("chunks") == total:
            self.done = int(saved.get("done", 0))
            self.counts = {k: int(saved.get("counts", {}).get(k, 0)) for k in COUNTS}
            self.status = str(saved.get("status", "SUCCESS"))
            self.conflicts: list[dict[str, Any]] = list(saved.get("conflicts", []))
            self.conflicts_total = int(saved.get("conflicts_total", len(self.conflicts)))
            self.shape = saved.get("shape")
        else:
            self.done, self.counts, self.status = 0, dict.fromkeys(COUNTS, 0), "SUCCESS"
            self.conflicts, self.conflicts_total, self.shape = [], 0, None

    def add(self, summary: ImportSummary, conflicts: list[dict[str, Any]]) -> None:
        self.done += 1
        for key in COUNTS:
            self.counts[key] += summary.counts[key]
        if _SEVERITY.get(summary.status, 2) > _SEVERITY.get(self.status, 2):
            self.status = summary.status
        self.conflicts_total += len(conflicts)
        self.conflicts.extend(conflicts[: max(0, MAX_CONFLICTS - len(self.conflicts))])
        self.shape = summary.shape

    def as_dict(self) -> dict[str, Any]:
        return {
            "chunks": self.total,
            "done": self.done,
            "counts": self.counts,
            "status": self.status,
            "conflicts": self.conflicts,
            "conflicts_total": self.conflicts_total,
            "shape": self.shape,
        }


def explain_conflicts(
    summary: ImportSummary,
    part: Sequence[dict[str, Any]],
    offset: int,
    codes: Sequence[str | None],
    top: dict[str, Any],
) -> list[dict[str, Any]]:
    """Each conflict with the data values it is about: absolute index, source code, the value sent."""
    out = []
    for conflict in summary.conflicts:
        item: dict[str, Any] = {
            "object": conflict.get("object"),
            "value": conflict.get("value"),
            "errorCode": conflict.get("errorCode"),
        }
        if conflict.get("property"):
            item["property"] = conflict["property"]
        indexes = [i for i in conflict.get("indexes") or [] if isinstance(i, int) and 0 <= i < len(part)]
        if not indexes and conflict.get("object"):
            # Older versions give no indexes: the values that mention the conflicting object.
            target = conflict["object"]
            indexes = [
                i
                for i, v in enumerate(part)
                if target
                in (
                    v.get("dataElement"),
                    v.get("categoryOptionCombo"),
                    v.get("attributeOptionCombo", top.get("attributeOptionCombo")),
                    v.get("orgUnit", top.get("orgUnit")),
                    v.get("period", top.get("period")),
                )
            ]
        item["indexes"] = [offset + i for i in indexes]
        item["dataValues"] = [
            {"index": offset + i, "code": codes[offset + i] if offset + i < len(codes) else None, **part[i]}
            for i in indexes[:MAX_VALUES_PER_CONFLICT]
        ]
        out.append(item)
    return out


async def send_data_value_set(
    client: DHIS2Client,
    data_value_set: dict[str, Any],
    delivery: DeliveryInfo,
    *,
    codes: Sequence[str | None],
    chunk_size: int,
    budget: float,
) -> DeliveryResult:
    """Import ``data_value_set``; return the delivered result or raise ``DeliveryError``.

    No chunk is started after ``budget`` seconds: the rest is left to the next attempt, so an
    attempt ends within its lease however slow DHIS2 is.
    """
    parts = chunks(data_value_set, chunk_size)
    progress = _Progress(len(parts), delivery.previous_detail)
    params = client.data_value_set_params()
    base: dict[str, Any] = {
        "type": "aggregate",
        "instance": client.name,
        "values": len(data_value_set["dataValues"]),
        "idempotency_key": delivery.idempotency_key,
        "dry_run": client.settings.dry_run,
        "sent": sent_record(data_value_set, codes),
    }
    status_code: int | None = None
    first, started = progress.done, time.monotonic()
    for number in range(first, len(parts)):
        if number > first and time.monotonic() - started > budget:
            raise DeliveryError(
                f"sent chunks {first + 1} to {number} of {len(parts)} in this attempt's time; "
                "the next attempt sends the rest",
                retryable=True,
                detail={**base, "progress": progress.as_dict()},
            )
        part = parts[number]
        body = json.dumps(part, separators=(",", ":")).encode()
        try:
            response = await client.post_json(
                "/dataValueSets",
                body,
                params,
                headers={"Idempotency-Key": f"{delivery.idempotency_key}-{number}"},
            )
        except httpx.HTTPError as err:
            raise DeliveryError(
                f"DHIS2 instance {client.name!r}: {type(err).__name__} sending chunk {number + 1} of {len(parts)}",
                retryable=True,
                detail={**base, "progress": progress.as_dict()},
            ) from err
        status_code = response.status_code
        summary = import_summary(json_body(response))
        if summary is None:
            refuse(response, client.name, detail={**base, "progress": progress.as_dict()})
        offset = number * chunk_size
        progress.add(summary, explain_conflicts(summary, part["dataValues"], offset, codes, part))
        if summary.status == "ERROR" and not summary.conflicts and response.status_code >= 400:
            # An ERROR without conflicts (a data set locked, a period closed) says why in the message.
            base["message"] = summary.description or summary.message or excerpt(response)
    detail = {
        **base,
        "status": progress.status,
        "import_count": progress.counts,
        "conflicts": progress.conflicts,
        "conflicts_total": progress.conflicts_total,
        "chunks": len(parts),
        "response_shape": progress.shape,
    }
    if progress.status == "SUCCESS":
        return DeliveryResult(status_code=status_code, remote_ref=None, detail=detail)
    sample = progress.conflicts[0] if progress.conflicts else None
    example = f"; first: {sample['value']} ({sample.get('errorCode') or sample.get('object')})" if sample else ""
    raise DeliveryError(
        f"DHIS2 import {progress.status}: {progress.counts['imported']} imported, {progress.counts['updated']} "
        f"updated, {progress.counts['ignored']} ignored, {progress.conflicts_total} conflict(s){example}",
        retryable=False,
        status_code=status_code,
        detail=detail,
    )
