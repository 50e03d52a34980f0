"""The audit log: every request, every delivery attempt, every security event.

Rows are queued in memory and written in batches so the request path never waits on the
audit table. A stop flushes what is queued; rows that must survive a crash (ingest,
delivery attempts) are written in the same transaction as the data they describe, via
``rows_for()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core.config.settings import AuditSettings
from core.redaction import Redactor
from core.storage.db import Database
from core.storage.models import audit_log

log = logging.getLogger("switchboard.audit")
_COLUMNS = {c.name for c in audit_log.columns} - {"id"}


class AuditLog:
    def __init__(self, db: Database, settings: AuditSettings) -> None:
        self.db = db
        self.settings = settings
        self.redact = Redactor(settings.redact_keys)
        self._redactors: dict[tuple[str, ...], Redactor] = {}
        self._pending: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # One flush at a time: rows are written in the order they were recorded, and a
        # caller's flush() returns only once everything recorded before it is written.
        self._flushing = asyncio.Lock()
        # Rows the database refused (set aside, each with a log line), since start.
        self.set_aside = 0

    def row(self, kind: str, **fields: Any) -> dict[str, Any]:
        """A complete audit row (for writing inside another transaction)."""
        unknown = set(fields) - _COLUMNS
        if unknown:
            raise TypeError(f"unknown audit fields: {sorted(unknown)}")
        row = dict.fromkeys(_COLUMNS)
        row.update(fields)
        row["kind"] = kind
        row["at"] = row["at"] or datetime.now(UTC)
        if row["detail"] is not None:
            row["detail"] = self.redact(row["detail"])
        if row["path"] and len(row["path"]) > 512:
            row["path"] = row["path"][:512]
        return row

    def record(self, kind: str, **fields: Any) -> None:
        """Queue one row; it is written within ``flush_interval`` seconds."""
        self._pending.append(self.row(kind, **fields))
        if len(self._pending) >= 500:
            self._wake.set()

    def payload(self, value: Any, extra_keys: tuple[str, ...] = ()) -> Any:
        """A payload as it may be stored: redacted, or nothing when capture is off.

        ``extra_keys`` are redacted beside ``[audit] redact_keys`` (an adapter's ``redact_keys``).
        """
        if not self.settings.capture_payloads:
            return None
        redacted = self.redacted(value, extra_keys)
        text = str(redacted)
        limit = self.settings.max_payload_bytes
        return redacted if len(text) <= limit else {"truncated": text[:limit]}

    def redacted(self, value: Any, extra_keys: tuple[str, ...] = ()) -> Any:
        """``value`` with ``[audit] redact_keys`` and ``extra_keys`` masked (what a page may show)."""
        redact = self.redact
        if extra_keys:
            redact = self._redactors.get(extra_keys) or self._redactors.setdefault(
                extra_keys, Redactor([*self.settings.redact_keys, *extra_keys])
            )
        return redact(value)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.flush_interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        async with self._flushing:
            if not self._pending:
                return
            batch, self._pending = self._pending, []
            unwritten = await self._write(batch)
            if unwritten:
                # The database is out of reach: keep the rows for the next flush rather than
                # dropping them (at most 50,000: an outage must not exhaust the memory).
                self._pending[:0] = unwritten[:50_000]
                await asyncio.sleep(1)

    async def _write(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Write ``batch``; returns the rows left unwritten because the database is out of reach.

        A batch the database refuses while it answers holds a row it cannot store: the batch is
        halved until that row is found, which is set aside with one log line, and every other
        row is written. One row never stops the audit log, and no batch is retried forever.
        """
        try:
            async with self.db.transaction() as conn:
                await conn.execute(audit_log.insert(), batch)
        except Exception as err:
            if not await self._reachable():
                log.warning("audit write of %d rows failed: the database is out of reach; will retry", len(batch))
                return batch
            if len(batch) == 1:
                self._set_aside(batch[0], err)
                return []
            middle = len(batch) // 2
            unwritten = await self._write(batch[:middle])
            if unwritten:
                return unwritten + batch[middle:]
            return await self._write(batch[middle:])
        return []

    async def _reachable(self) -> bool:
        try:
            await self.db.ping()
        except Exception:
            return False
        return True

    def _set_aside(self, row: dict[str, Any], err: Exception) -> None:
        self.set_aside += 1
        # Which row and the error's type, not what the row holds: the error's text quotes the
        # statement's parameters (payloads, actors, clients: personal data).
        cause = getattr(err, "orig", None) or err.__cause__ or err
        log.error(
            "audit row set aside: the database refused it (%s; kind=%s action=%s request_id=%s at=%s)",
            type(cause).__name__,
            row.get("kind"),
            row.get("action"),
            row.get("request_id"),
            row.get("at"),
        )

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await self.flush()

    async def purge(self, older_than_days: int | None = None) -> int:
        """Delete rows older than the retention period; returns how many."""
        days = older_than_days or self.settings.retention_days
        cutoff = datetime.now(UTC) - timedelta(days=days)
        async with self.db.transaction() as conn:
            result = await conn.execute(sa.delete(audit_log).where(audit_log.c.at < cutoff))
        return int(result.rowcount or 0)
