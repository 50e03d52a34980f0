"""A person's data, exported on request (subject access; docs/privacy.md, "Export").

The core gathers the person's messages, conversations and deliveries, and each plugin what it
keeps about them (``switchboard_export_participant``), into one JSON document. Asked through
the API, the export is a ``privacy_requests`` row that a worker job fills in: the file is
written under ``<data_dir>/privacy-exports`` and downloaded through a link signed with a key
derived from ``[auth] secret_key`` for this purpose alone, valid for ``LINK_TTL`` seconds; the
file itself is removed ``FILE_TTL`` after it was made (by the ``privacy_retention`` job). The
participant is kept in the request's row only until the export ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import time
import uuid
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from core.auth.events import record_event
from core.auth.tokens import derive_key
from core.contracts import ExportFile
from core.errors import NotFound
from core.operations.erasure import checked_participant, participant_message_ids
from core.privacy.keys import FILE_MAGIC
from core.storage.db import among
from core.storage.models import conversations, deliveries, messages, privacy_requests
from core.untrusted import bounded_int, constant_time_equal

if TYPE_CHECKING:
    from starlette.requests import Request

    from core.auth.permissions import Principal
    from core.gateway import Gateway

log = logging.getLogger("switchboard.privacy")

JOB = "privacy_export"
LINK_PURPOSE = "privacy:export-link"
# A download link is valid for an hour; the file is kept a day, then removed.
LINK_TTL = 3600
FILE_TTL = timedelta(days=1)
CHUNK = 1000


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in result]


async def collect(gateway: Gateway, participant: str) -> dict[str, Any]:
    """Everything held about ``participant``: the core's rows and every plugin's, as one JSON-able dict."""
    document, _ = await collect_with_files(gateway, participant)
    return document


async def collect_with_files(gateway: Gateway, participant: str) -> tuple[dict[str, Any], list[ExportFile]]:
    """``collect``'s document, and the files the plugins keep about the person (``switchboard_export_files``)."""
    participant = checked_participant(participant)
    conversation_ids, message_ids = await participant_message_ids(gateway, participant)
    document = await _document(gateway, participant, conversation_ids, message_ids)
    answers: Sequence[Sequence[ExportFile] | None] = await gateway.plugins.answers(
        "switchboard_export_files", participant=participant, message_ids=message_ids, gateway=gateway
    )
    files = [f for answer in answers for f in answer or ()]
    return document, files


async def _document(
    gateway: Gateway, participant: str, conversation_ids: Sequence[uuid.UUID], message_ids: Sequence[uuid.UUID]
) -> dict[str, Any]:
    core: dict[str, list[dict[str, Any]]] = {"messages": [], "conversations": [], "deliveries": []}
    delivery_columns = [
        deliveries.c.id,
        deliveries.c.message_id,
        deliveries.c.destination,
        deliveries.c.status,
        deliveries.c.attempt_count,
        deliveries.c.remote_ref,
        deliveries.c.created_at,
        deliveries.c.delivered_at,
    ]
    async with gateway.db.transaction() as conn:
        for i in range(0, len(message_ids), CHUNK):
            chunk = message_ids[i : i + CHUNK]
            core["messages"] += _rows(await conn.execute(sa.select(messages).where(among(messages.c.id, chunk))))
            core["deliveries"] += _rows(
                await conn.execute(sa.select(*delivery_columns).where(among(deliveries.c.message_id, chunk)))
            )
        for i in range(0, len(conversation_ids), CHUNK):
            chunk = conversation_ids[i : i + CHUNK]
            core["conversations"] += _rows(
                await conn.execute(sa.select(conversations).where(among(conversations.c.id, chunk)))
            )
    answers: Sequence[Mapping[str, Sequence[Mapping[str, Any]]]] = await gateway.plugins.answers(
        "switchboard_export_participant", participant=participant, message_ids=message_ids, gateway=gateway
    )
    plugins: dict[str, list[Any]] = {}
    for answer in answers:
        for table, rows in answer.items():
            plugins.setdefault(table, []).extend(dict(r) for r in rows)
    return {
        "participant": participant,
        "generated_at": datetime.now(UTC).isoformat(),
        "core": core,
        "plugins": plugins,
    }


def encode(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, default=_jsonable, ensure_ascii=False, indent=1).encode()


def write_archive(target: IO[bytes], document: Mapping[str, Any], files: Sequence[ExportFile]) -> None:
    """Write a ZIP of ``export.json`` (the document) and each file under ``files/`` to ``target``,
    one file in memory at a time (``target`` need not seek: a sealing writer does not).

    A plugin's name for a file is kept inside ``files/``: a leading ``/`` and any ``..`` or empty
    part are dropped, a character no file name should hold becomes ``_``, and a name given twice
    gets a number.
    """
    taken: set[str] = set()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("export.json", encode(document))
        for file in files:
            name = _archive_name(file.name, taken)
            # Media are compressed already: stored as they are.
            zf.writestr(zipfile.ZipInfo(name, date_time=time.gmtime()[:6]), file.read(), zipfile.ZIP_STORED)


def _archive_name(name: str, taken: set[str]) -> str:
    # What no file name should hold (a NUL, which zipfile cuts the name at; a control character; a
    # lone surrogate, which UTF-8 cannot write) becomes "_"; a part is at most 200 characters.
    clean = "".join(c if c.isprintable() else "_" for c in name.replace("\\", "/"))
    parts = [part[:200] for part in clean.split("/") if part not in ("", ".", "..")]
    base = "files/" + ("/".join(parts) or "file")
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        stem, dot, suffix = base.rpartition(".")
        candidate = f"{stem}-{n}.{suffix}" if dot and "/" not in suffix else f"{base}-{n}"
    taken.add(candidate)
    return candidate


def counts_of(document: Mapping[str, Any]) -> dict[str, int]:
    """Rows per table of an export (core tables by name, plugin tables by the plugin's name for them)."""
    return {
        **{table: len(rows) for table, rows in document["core"].items()},
        **{table: len(rows) for table, rows in document["plugins"].items()},
    }


def exports_dir(gateway: Gateway) -> Path:
    return Path(gateway.settings.server.data_dir) / "privacy-exports"


async def request_export(
    gateway: Gateway, participant: str, principal: Principal | None, *, request: Request | None = None
) -> dict[str, Any]:
    """Record an export and queue the job that makes it; its status (``pending``)."""
    participant = checked_participant(participant)
    export_id = uuid.uuid4()
    async with gateway.db.transaction() as conn:
        await conn.execute(
            sa.insert(privacy_requests).values(
                id=export_id,
                kind="export",
                status="pending",
                participant=participant,
                requested_by=principal.label if principal else "system",
                created_at=datetime.now(UTC),
            )
        )
    await gateway.queue.enqueue_job(JOB, str(export_id))
    record_event(gateway, "participant_export_requested", request=request, status=202, export=str(export_id))
    return await export_status(gateway, export_id, None)


async def run_export(gateway: Gateway, export_id: uuid.UUID) -> None:
    """Make the export file of a pending request (the worker job). A request already taken is left alone."""
    async with gateway.db.transaction() as conn:
        row = (
            await conn.execute(
                sa.update(privacy_requests)
                .where(
                    privacy_requests.c.id == export_id,
                    privacy_requests.c.kind == "export",
                    privacy_requests.c.status == "pending",
                )
                .values(status="running")
                .returning(privacy_requests.c.participant)
            )
        ).first()
    if row is None or not row.participant:
        return
    try:
        document, files = await collect_with_files(gateway, row.participant)
        # With the person's files, one ZIP archive; kept a day in the data directory, sealed
        # there like every other copy of the person's data when a data key is set.
        name = f"{export_id}.zip" if files else f"{export_id}.json"
        size = await asyncio.to_thread(_write_export, gateway, exports_dir(gateway) / name, document, files)
        values: dict[str, Any] = {
            "status": "done",
            "file": name,
            "size_bytes": size,
            "counts": counts_of(document) | ({"files": len(files)} if files else {}),
        }
    except Exception as err:  # noqa: BLE001 - recorded on the request, which says it failed
        log.exception("privacy export %s failed", export_id)
        values = {"status": "failed", "error": f"{type(err).__name__}"}
    async with gateway.db.transaction() as conn:
        await conn.execute(
            sa.update(privacy_requests)
            .where(privacy_requests.c.id == export_id)
            .values(participant=None, completed_at=datetime.now(UTC), **values)
        )


def _write_export(gateway: Gateway, target: Path, document: Mapping[str, Any], files: Sequence[ExportFile]) -> int:
    """Write an export's file (blocking); its size in clear. Neither the archive nor its sealed
    form is ever whole in memory: a person's media can be hundreds of MB."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with _kept(gateway, target) as out:
        if files:
            write_archive(out, document, files)
        else:
            out.write(encode(document))
        return out.tell()


@contextlib.contextmanager
def _kept(gateway: Gateway, target: Path) -> Iterator[IO[bytes]]:
    """A file to write ``target`` through, as it should be kept: readable by this user only,
    sealed in chunks when a data key is set, and there whole or not at all."""
    partial = target.with_name(f".{target.name}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            keyring = gateway.privacy.keyring
            if keyring is None:
                yield file
            else:
                with keyring.sealing_writer(file) as sealed:
                    yield cast(IO[bytes], sealed)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _signature(gateway: Gateway, export_id: uuid.UUID, expires: int) -> str:
    key = derive_key(gateway, LINK_PURPOSE)
    return hmac.new(key, f"{export_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def link_is_valid(gateway: Gateway, export_id: uuid.UUID, expires: str | None, signature: str | None) -> bool:
    """Whether a download link is genuine and unexpired (compared in constant time)."""
    expiry = bounded_int(expires, low=0)
    if expiry is None or not signature:
        return False
    return constant_time_equal(signature, _signature(gateway, export_id, expiry)) and expiry > time.time()


async def export_status(gateway: Gateway, export_id: uuid.UUID, base_url: str | None) -> dict[str, Any]:
    """An export as the API shows it; a finished one whose file is still kept carries a signed link."""
    async with gateway.db.transaction() as conn:
        row = (
            await conn.execute(
                sa.select(privacy_requests).where(
                    privacy_requests.c.id == export_id, privacy_requests.c.kind == "export"
                )
            )
        ).first()
    if row is None:
        raise NotFound("no such export")
    out: dict[str, Any] = {
        "id": str(row.id),
        "status": row.status,
        "requested_by": row.requested_by,
        "created_at": row.created_at.isoformat(),
        "completed_at": row.completed_at.isoformat() if row.completed_at else None,
        "counts": row.counts,
        "size_bytes": row.size_bytes,
        "error": row.error,
        "download_url": None,
        "expires_at": None,
    }
    if row.status == "done" and row.file and base_url is not None:
        expires = int(time.time()) + LINK_TTL
        query = f"expires={expires}&signature={_signature(gateway, row.id, expires)}"
        out["download_url"] = f"{base_url.rstrip('/')}/api/privacy/exports/{row.id}/download?{query}"
        out["expires_at"] = datetime.fromtimestamp(expires, UTC).isoformat()
    return out


async def export_chunks(gateway: Gateway, export_id: uuid.UUID) -> tuple[Iterator[bytes], str]:
    """A finished export's clear bytes, a chunk at a time (blocking: iterate in a thread), and
    its file name's suffix (``.json``, or ``.zip`` with the person's files); 404 when there is
    none (any more)."""
    path = await export_file(gateway, export_id)
    head = await asyncio.to_thread(_head, path, len(FILE_MAGIC))
    if head == FILE_MAGIC:  # sealed whole, as exports were before they were sealed in chunks
        data = gateway.privacy.open_bytes(await asyncio.to_thread(path.read_bytes))
        return iter([data]), path.suffix
    return gateway.privacy.open_file(path), path.suffix


def _head(path: Path, size: int) -> bytes:
    with path.open("rb") as file:
        return file.read(size)


async def export_file(gateway: Gateway, export_id: uuid.UUID) -> Path:
    """The file of a finished export (sealed when a data key is set); 404 when there is none (any more)."""
    async with gateway.db.transaction() as conn:
        row = (
            await conn.execute(
                sa.select(privacy_requests.c.file).where(
                    privacy_requests.c.id == export_id,
                    privacy_requests.c.kind == "export",
                    privacy_requests.c.status == "done",
                )
            )
        ).first()
    path: Path | None = exports_dir(gateway) / row.file if row is not None and row.file else None
    if path is None or not await asyncio.to_thread(path.is_file):
        raise NotFound("this export has no file (any more)")
    return path


async def purge_expired_exports(gateway: Gateway) -> int:
    """Remove the files of exports made more than ``FILE_TTL`` ago; how many were removed."""
    cutoff = datetime.now(UTC) - FILE_TTL
    async with gateway.db.transaction() as conn:
        ids = list(
            (
                await conn.execute(
                    sa.update(privacy_requests)
                    .where(
                        privacy_requests.c.kind == "export",
                        privacy_requests.c.file.is_not(None),
                        privacy_requests.c.completed_at < cutoff,
                    )
                    .values(file=None)
                    .returning(privacy_requests.c.id)
                )
            ).scalars()
        )
    # An export's file is named after its id (RETURNING would give the cleared name).
    directory = exports_dir(gateway)
    for export_id in ids:
        await asyncio.to_thread((directory / f"{export_id}.json").unlink, missing_ok=True)
    return len(ids)


async def recent_requests(gateway: Gateway, base_url: str, limit: int = 50) -> list[dict[str, Any]]:
    """The latest erasures and exports, newest first (an export with its link while its file is kept)."""
    async with gateway.db.transaction() as conn:
        rows = list(
            await conn.execute(
                sa.select(privacy_requests.c.id, privacy_requests.c.kind)
                .order_by(privacy_requests.c.created_at.desc())
                .limit(limit)
            )
        )
        erasures = {
            r.id: r
            for r in await conn.execute(
                sa.select(privacy_requests).where(
                    privacy_requests.c.id.in_([r.id for r in rows if r.kind == "erasure"])
                )
            )
        }
    out: list[dict[str, Any]] = []
    for row in rows:
        if row.kind == "export":
            out.append({"kind": "export", **await export_status(gateway, row.id, base_url)})
            continue
        e = erasures[row.id]
        counts = e.counts or {}
        out.append(
            {
                "kind": "erasure",
                "id": str(e.id),
                "status": e.status,
                "requested_by": e.requested_by,
                "created_at": e.created_at.isoformat(),
                "counts": {t: n for t, n in counts.get("tables", {}).items() if n},
                "cancelled_deliveries": counts.get("cancelled_deliveries", 0),
            }
        )
    return out
