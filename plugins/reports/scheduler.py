"""Scheduled reports: claim each due tick once, make a normal report, then deliver it when it ends.

Every gateway and worker runs the ``reports_schedules`` cron job each minute. A tick is claimed
by inserting its ``(schedule, tick_at)`` row in the same transaction as the report: the primary
key lets one claim win, and the loser stores nothing. Once the report has ended (completed or
failed), whoever flips its run from ``waiting`` to ``sending`` e-mails the recipients and/or
submits it to the destination — right after generating it, or on the next tick.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core import Gateway, StandardMessage, Unprocessable
from plugins.reports import service
from plugins.reports.models import report_schedule_runs as runs
from plugins.reports.models import report_schedules, reports
from plugins.reports.schedule_def import Schedule
from plugins.reports.writers import MEDIA_TYPES

log = logging.getLogger("switchboard.reports.schedules")
OWNER = "schedule:"


@dataclass(frozen=True)
class Defined:
    """A schedule and where it comes from (``config`` or ``api``, created at ``since``)."""

    schedule: Schedule
    source: str
    since: datetime | None = None


async def defined(gateway: Gateway) -> dict[str, Defined]:
    """Every schedule by name: the config file's, then those added through the API."""
    found = {s.name: Defined(s, "config") for s in service.settings_of(gateway).schedules}
    async with gateway.db.transaction() as conn:
        rows = (await conn.execute(report_schedules.select().order_by(report_schedules.c.name))).all()
    for row in rows:
        found.setdefault(row.name, Defined(Schedule.model_validate(row.definition), "api", row.created_at))
    return found


async def tick(gateway: Gateway, now: datetime | None = None) -> int:
    """Start every schedule whose time has come (once per tick, whoever else ticks); how many started."""
    now = now or datetime.now(UTC)
    started = 0
    for item in (await defined(gateway)).values():
        at = item.schedule.due(now, item.since)
        if at is not None and await start(gateway, item.schedule, at):
            started += 1
    await deliver_ready(gateway)
    return started


async def start(gateway: Gateway, schedule: Schedule, tick_at: datetime) -> bool:
    """Claim the tick and store its report; False when another process claimed it first."""
    report_type = service.catalogue(gateway).get(schedule.type)
    if report_type is None:
        log.error("schedule %s: no report type %r", schedule.name, schedule.type)
        return False

    async def claim(conn: Any, row: Any) -> None:
        values = {"schedule": schedule.name, "tick_at": tick_at, "report_id": row.id}
        await conn.execute(runs.insert().values(**values, state="waiting", claimed_at=datetime.now(UTC)))

    try:
        params = report_type.check_params(dict(schedule.params))
    except Unprocessable as err:
        log.error("schedule %s: invalid params: %s", schedule.name, err)
        return False
    try:
        await service.create(
            gateway,
            owner=OWNER + schedule.name,
            owner_label=f"schedule {schedule.name}",
            type_name=schedule.type,
            fmt=schedule.format,
            params=params,
            also=claim,
        )
    except IntegrityError:
        return False  # another gateway or worker has this tick
    return True


def check(gateway: Gateway, schedule: Schedule) -> None:
    """Raise ``Unprocessable`` naming the field: an unknown type or destination, bad params, mail not set up."""
    report_type = service.catalogue(gateway).get(schedule.type)
    if report_type is None:
        raise Unprocessable(
            "invalid schedule", errors=[{"field": "type", "message": f"no report type {schedule.type!r}"}]
        )
    report_type.check_params(dict(schedule.params))
    if schedule.destination is not None and schedule.destination not in gateway.destinations:
        raise Unprocessable(
            "invalid schedule",
            errors=[{"field": "destination", "message": f"no destination {schedule.destination!r}"}],
        )
    if schedule.recipients and not gateway.mail.configured:
        raise Unprocessable(
            "invalid schedule",
            errors=[{"field": "recipients", "message": "mail is not configured (set [mail] host and sender)"}],
        )


async def deliver_ready(gateway: Gateway, report_id: Any = None) -> int:
    """Deliver the runs whose report has ended (only ``report_id``'s when given); how many."""
    query = (
        sa.select(runs.c.schedule, runs.c.tick_at)
        .join(reports, reports.c.id == runs.c.report_id)
        .where(runs.c.state == "waiting", reports.c.status.in_(("completed", "failed")))
        .limit(100)
    )
    if report_id is not None:
        query = query.where(runs.c.report_id == report_id)
    async with gateway.db.transaction() as conn:
        ready = (await conn.execute(query)).all()
    done = 0
    for name, tick_at in ready:
        done += await _deliver_run(gateway, name, tick_at)
    return done


async def _deliver_run(gateway: Gateway, name: str, tick_at: datetime) -> int:
    where = (runs.c.schedule == name, runs.c.tick_at == tick_at)
    async with gateway.db.transaction() as conn:
        run = (
            await conn.execute(
                runs.update().where(*where, runs.c.state == "waiting").values(state="sending").returning(*runs.c)
            )
        ).one_or_none()
    if run is None:
        return 0  # another process is delivering it
    state, error = "delivered", None
    try:
        item = (await defined(gateway)).get(name)
        if item is None:
            raise LookupError("the schedule was deleted")
        row = await service.get(gateway, run.report_id, None)
        if row.status != "completed":
            raise LookupError(f"the report failed: {row.error}")
        await deliver(gateway, item.schedule, row)
    except Exception as err:  # noqa: BLE001 - MailError, a lost file…: recorded on the run
        log.warning("schedule %s (tick %s): not delivered: %s", name, tick_at.isoformat(), err)
        state, error = "failed", str(err)[:1000] or repr(err)
    async with gateway.db.transaction() as conn:
        await conn.execute(runs.update().where(*where).values(state=state, error=error, delivered_at=datetime.now(UTC)))
    return 1


def _summary(schedule: Schedule, row: Any) -> str:
    period = row.params if {"start", "end"} <= set(row.params) else {"start": "?", "end": "?"}
    return f"{row.type} from {period['start']} to {period['end']} ({row.row_count} rows), schedule {schedule.name}"


async def deliver(gateway: Gateway, schedule: Schedule, row: Any) -> None:
    """E-mail the recipients (the file attached when small, else its link) and/or submit it to the destination."""
    settings = service.settings_of(gateway)
    storage = service.storage_of(gateway)
    size = row.size_bytes or 0
    attach = bool(schedule.recipients) and size <= settings.attach_max_bytes
    inline = schedule.destination is not None and size <= settings.inline_max_bytes
    content = await storage.read(row.storage_key) if attach or inline else b""
    link: dict[str, Any] | None = None
    try:
        link = await service.download_link(gateway, row, None)
    except LookupError:  # no public_url: fine only when the file travels itself
        if (schedule.recipients and not attach) or (schedule.destination is not None and not inline):
            raise
    summary = _summary(schedule, row)
    name = service.filename(row)
    if schedule.recipients:
        text = f"The scheduled report {summary}.\n"
        attachments = [(name, content, MEDIA_TYPES[row.format])] if attach else []
        if not attach and link is not None:
            text += f"\nDownload it (the link expires at {link['download_expires_at']}):\n{link['download_url']}\n"
        await gateway.mail.send(
            schedule.recipients, f"Report: {schedule.name} ({row.type})", text, attachments=attachments
        )
    if schedule.destination is not None:
        extra: dict[str, Any] = {
            "report_id": str(row.id),
            "schedule": schedule.name,
            "type": row.type,
            "format": row.format,
            "params": row.params,
            "row_count": row.row_count,
            "size_bytes": size,
            "filename": name,
            "media_type": MEDIA_TYPES[row.format],
            **(link or {}),
        }
        if inline:
            extra["content_base64"] = base64.b64encode(content).decode()
        message = StandardMessage(
            platform="reports",
            external_id=f"report-{row.id}",
            kind="report",
            direction="out",
            text=f"Scheduled report {summary}",
            extra=extra,
        )
        await gateway.submit([message], destinations=[schedule.destination])
