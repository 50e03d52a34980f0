"""Sending a tracker payload to ``/api/tracker``, synchronously or as a job that is polled.

Synchronous: the answer is the ImportReport. Asynchronous: DHIS2 answers with a job id,
``/api/tracker/jobs/{uid}`` tells when it is done and ``/api/tracker/jobs/{uid}/report``
gives the ImportReport. DHIS2 keeps that report only in memory, so the delivery stores it.
A job still running when an attempt has polled long enough is handed to the next attempt
through the delivery's detail: the next attempt polls the same job instead of submitting
again. ``OK`` and ``WARNING`` are delivered; ``ERROR`` is dead, with every error report.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from core import DeliveryError, DeliveryInfo, DeliveryResult
from plugins.dhis2.client import DHIS2Client
from plugins.dhis2.delivery.answers import json_body, refuse
from plugins.dhis2.delivery.summaries import ImportReport, import_report
from plugins.dhis2.settings import TrackerSettings

MAX_ERRORS = 1000
MAX_STORED_REPORT = 200_000  # characters of the raw report kept beside the parsed one


async def send_tracker(
    client: DHIS2Client,
    payload: dict[str, Any],
    delivery: DeliveryInfo,
    *,
    settings: TrackerSettings,
    async_import: bool,
    budget: float,
) -> DeliveryResult:
    """Import ``payload``; return the delivered result or raise ``DeliveryError``.

    A job is polled for ``poll_timeout`` seconds, but never past ``budget`` (the attempt's lease).
    """
    base: dict[str, Any] = {
        "type": "tracker",
        "instance": client.name,
        "async": async_import,
        "idempotency_key": delivery.idempotency_key,
    }
    previous = delivery.previous_detail or {}
    job = previous.get("job") if previous.get("type") == "tracker" and previous.get("job_state") == "running" else None
    if job is not None and not await _job_known(client, job):
        # DHIS2 restarted (jobs live in its memory): submit again; the payload's uids
        # make that an update of whatever the lost job imported.
        base["lost_job"] = job
        job = None
    if job is None:
        params = {
            "async": "true" if async_import else "false",
            "importStrategy": settings.import_strategy,
            "atomicMode": settings.atomic_mode,
            "reportMode": "ERRORS",
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        try:
            response = await client.post_json(
                "/tracker", body, params, headers={"Idempotency-Key": delivery.idempotency_key}
            )
        except httpx.HTTPError as err:
            raise DeliveryError(
                f"DHIS2 instance {client.name!r}: {type(err).__name__} posting the tracker payload", retryable=True
            ) from err
        answer = json_body(response)
        if not async_import:
            report = import_report(answer)
            if report is None:
                refuse(response, client.name, detail=base)
            return _judge(report, answer, response.status_code, base)
        job = _job_id(answer)
        if job is None or response.status_code >= 300:
            refuse(response, client.name, detail=base)
    base["job"] = job
    return await _poll(client, job, base, settings, min(settings.poll_timeout, budget))


def _job_id(answer: Any) -> str | None:
    if isinstance(answer, dict) and isinstance(answer.get("response"), dict):
        job = answer["response"].get("id")
        return job if isinstance(job, str) and job else None
    return None


async def _get(client: DHIS2Client, path: str, base: dict[str, Any], params: dict[str, str] | None = None) -> Any:
    """A GET while a job is known: a failure keeps the job for the next attempt to poll."""
    try:
        return await client.get(path, params)
    except httpx.HTTPError as err:
        raise DeliveryError(
            f"DHIS2 instance {client.name!r}: {type(err).__name__} polling tracker job {base['job']}",
            retryable=True,
            detail={**base, "job_state": "running"},
        ) from err


async def _job_known(client: DHIS2Client, job: str) -> bool:
    response = await _get(client, f"/tracker/jobs/{job}", {"type": "tracker", "job": job})
    if response.status_code == 404:
        return False
    notifications = json_body(response)
    if response.is_success and isinstance(notifications, list):
        return bool(notifications)
    refuse(response, client.name, detail={"type": "tracker", "job": job, "job_state": "running"})


async def _poll(
    client: DHIS2Client, job: str, base: dict[str, Any], settings: TrackerSettings, timeout: float
) -> DeliveryResult:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while True:
        response = await _get(client, f"/tracker/jobs/{job}", base)
        notifications = json_body(response)
        if response.status_code != 404 and not response.is_success:
            refuse(response, client.name, detail={**base, "job_state": "running"})
        if isinstance(notifications, list) and notifications and isinstance(notifications[0], dict):
            last = notifications[0]  # newest first
            if last.get("completed") is True:
                break
        if time.monotonic() >= deadline:
            raise DeliveryError(
                f"DHIS2 tracker job {job} is still running after {timeout:g}s; polling resumes later",
                retryable=True,
                retry_after=settings.poll_interval,
                detail={**base, "job_state": "running", "last_notification": last.get("message")},
            )
        await asyncio.sleep(settings.poll_interval)
    response = await _get(client, f"/tracker/jobs/{job}/report", base, {"reportMode": "ERRORS"})
    answer = json_body(response)
    report = import_report(answer)
    if report is None:
        if last.get("level") == "ERROR" or response.status_code == 404:
            raise DeliveryError(
                f"DHIS2 tracker job {job} ended without a report: {last.get('message') or 'no message'}",
                retryable=False,
                status_code=response.status_code,
                detail={**base, "job_state": "failed", "last_notification": last.get("message")},
            )
        refuse(response, client.name, detail={**base, "job_state": "running"})
    return _judge(report, answer, response.status_code, {**base, "job_state": "done"})


def _judge(report: ImportReport, answer: Any, status_code: int, base: dict[str, Any]) -> DeliveryResult:
    raw = json.dumps(answer, separators=(",", ":"), default=str)
    detail = {
        **base,
        "status": report.status,
        "stats": report.stats,
        "errors": report.errors[:MAX_ERRORS],
        "errors_total": len(report.errors),
        "warnings": report.warnings[:MAX_ERRORS],
        "report": answer if len(raw) <= MAX_STORED_REPORT else {"truncated": raw[:MAX_STORED_REPORT]},
    }
    if report.status != "ERROR":
        return DeliveryResult(status_code=status_code, remote_ref=base.get("job"), detail=detail)
    first = report.errors[0] if report.errors else {}
    example = f"; first: {first.get('errorCode', '')} {first.get('message', '')}".rstrip() if first else ""
    raise DeliveryError(
        f"DHIS2 tracker import ERROR: {len(report.errors)} error(s), {report.stats['created']} created, "
        f"{report.stats['updated']} updated, {report.stats['ignored']} ignored{example}",
        retryable=False,
        status_code=status_code,
        detail=detail,
    )
