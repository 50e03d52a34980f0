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

from core import Conflict, Gateway, StandardMessage, Unprocessable
from plugins.reports import service
from plugins.reports.models import report_schedule_runs as runs
from plugins.reports.models import report_schedule_states as states
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


async def disabled_names(gateway: Gateway) -> set[str]:
    """The schedules an admin has switched off (read on each tick: no restart, every process)."""
    async with gateway.db.transaction() as conn:
        return set(await conn.scalars(sa.select(states.c.name).where(states.c.enabled.is_(False))))


async def set_enabled(gateway: Gateway, name: str, value: bool, *, by: str | None) -> None:
    """Switch a schedule on or off for every process (an upsert that holds under concurrent callers)."""
    values = {"enabled": value, "updated_at": datetime.now(UTC), "updated_by": by}
    for _ in range(2):
        try:
            async with gateway.db.transaction() as conn:
                done = await conn.execute(sa.update(states).where(states.c.name == name).values(**values))
                if done.rowcount == 0:
                    await conn.execute(sa.insert(states).values(name=name, **values))
            return
        except IntegrityError:
            continue  # another process inserted it first: update it now


async def tick(gateway: Gateway, now: datetime | None = None) -> int:
    """Start every enabled schedule whose time has come (once per tick, whoever else ticks); how many started."""
    now = now or datetime.now(UTC)
    started = 0
    off = await disabled_names(gateway)
    for item in (await defined(gateway)).values():
        if item.schedule.name in off:
            continue
        at = item.schedule.due(now, item.since)
        if at is not None and await start(gateway, item.schedule, at):
            started += 1
    await deliver_ready(gateway)
    return started


async def start(gateway: Gateway, schedule: Schedule, tick_at: datetime) -> bool:
    """Claim the tick and store its report; False when another process claimed it first."""
    try:
        params = _params(gateway, schedule)
    except Unprocessable as err:
        log.error("schedule %s: %s", schedule.name, err)
        return False
    try:
        await _create(gateway, schedule, params, tick_at, None)
    except IntegrityError:
        return False  # another gateway or worker has this tick
    return True


async def run_now(gateway: Gateway, schedule: Schedule, by: str) -> Any:
    """Store the schedule's report now, as its tick would (params resolved now, delivered when it ends).

    Works for a disabled schedule too, and leaves its ticks alone: the run's ``tick_at`` is the
    moment asked, and the next scheduled tick still runs. The stored report row is returned;
    409 when the schedule's type or params are no longer valid (a type whose plugin was removed).
    """
    try:
        params = _params(gateway, schedule)
    except Unprocessable as err:
        raise Conflict(f"the schedule {schedule.name!r} cannot run: {err}") from err
    for _ in range(3):
        try:
            return await _create(gateway, schedule, params, datetime.now(UTC), by)
        except IntegrityError:
            continue  # a tick of the same instant (to the microsecond) took the key: take the next one
    raise Conflict(f"the schedule {schedule.name!r} is being run: try again")


def _params(gateway: Gateway, schedule: Schedule) -> dict[str, Any]:
    """The schedule's params checked and resolved now (a relative period becomes dates)."""
    report_type = service.catalogue(gateway).get(schedule.type)
    if report_type is None:
        raise Unprocessable(f"no report type {schedule.type!r}")
    return report_type.check_params(dict(schedule.params))


async def _create(
    gateway: Gateway, schedule: Schedule, params: dict[str, Any], tick_at: datetime, by: str | None
) -> Any:
    async def claim(conn: Any, row: Any) -> None:
        values = {"schedule": schedule.name, "tick_at": tick_at, "report_id": row.id, "requested_by": by}
        await conn.execute(runs.insert().values(**values, state="waiting", claimed_at=datetime.now(UTC)))

    return await service.create(
        gateway,
        owner=OWNER + schedule.name,
        owner_label=f"schedule {schedule.name}",
        type_name=schedule.type,
        fmt=schedule.format,
        params=params,
        also=claim,
    )


def _ms(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds() * 1000, 3)


async def last_runs(gateway: Gateway, name: str, limit: int = 5) -> list[dict[str, Any]]:
    """The schedule's latest runs, newest first, read from the reports they made (no second history).

    ``outcome``: ``pending``/``running`` (its report), ``sending`` (the report ended, its delivery
    has not), ``delivered`` or ``failed`` (the report failed, or its delivery did: ``error`` says
    which). ``report_status`` is the report's own status (null once deleted or purged).
    """
    query = (
        sa.select(runs, reports.c.status, reports.c.started_at, reports.c.completed_at, reports.c.failed_at)
        .add_columns(reports.c.row_count, reports.c.error.label("report_error"))
        .select_from(runs.outerjoin(reports, reports.c.id == runs.c.report_id))
        .where(runs.c.schedule == name)
        .order_by(runs.c.tick_at.desc())
        .limit(limit)
    )
    async with gateway.db.transaction() as conn:
        rows = (await conn.execute(query)).all()
    found = []
    for r in rows:
        outcome, error = r.state, r.error or r.report_error
        if r.state == "waiting":  # its report not yet ended, or ended and not yet delivered
            outcome = r.status if r.status in ("pending", "running") else "sending"
            if r.status is None:
                outcome, error = "failed", "its report was deleted before it was delivered"
        ended = r.completed_at or r.failed_at
        found.append(
            {
                "tick_at": r.tick_at.isoformat(),
                "trigger": "schedule" if r.requested_by is None else "manual",
                "requested_by": r.requested_by,
                "report_id": str(r.report_id) if r.report_id else None,
                "report_status": r.status,  # None once the report was deleted or purged
                "started_at": (r.started_at or r.claimed_at).isoformat(),
                "duration_ms": _ms(r.started_at, ended),
                "rows": r.row_count,
                "outcome": outcome,
                "error": error,
            }
        )
    return found


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
        state, error = "failed", service.user_error(err, service.local_paths(gateway))[:1000]
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
