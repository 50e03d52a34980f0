"""Downloading inbound media: resolve the media id through Graph, fetch the file with the
token, check its size, type and checksum, and keep it in local storage.

Each file is a ``whatsapp_media`` row, claimed with one conditional UPDATE (as deliveries
are), so the job enqueued at ingest and the sweep that re-enqueues anything forgotten never
download one file twice. Meta's download URLs expire after minutes; a retry resolves the
media id again.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import mimetypes
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa

from core import CronJob, bounded_int
from plugins.whatsapp.graph import GraphError
from plugins.whatsapp.models import media

if TYPE_CHECKING:
    from core import Gateway
    from plugins.whatsapp.settings import WhatsAppSettings

log = logging.getLogger("switchboard.whatsapp")
DOWNLOAD_JOB = "whatsapp_download_media"
_CHUNK = 256 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_SWEEP_GRACE = timedelta(seconds=30)


class Rejected(Exception):
    """The file is not acceptable (size, type): it will not be downloaded."""


class Unavailable(Exception):
    """Graph says the media cannot be had (expired, unknown, no permission)."""


class Transient(Exception):
    """A failure that another attempt may not meet."""


@dataclass(frozen=True)
class Fetched:
    path: Path
    size: int
    sha256: str
    mime_type: str


def storage_dir(gateway: Gateway) -> Path:
    """Where media files go: ``[plugins.whatsapp.media] directory`` or ``<data_dir>/whatsapp-media``."""
    settings: WhatsAppSettings = gateway.plugin_config("whatsapp")
    return Path(settings.media.directory or Path(gateway.settings.server.data_dir) / "whatsapp-media")


def type_allowed(content_type: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(content_type, p.lower()) for p in patterns)


async def whatsapp_download_media(ctx: dict[str, Any], message_id: str, media_id: str) -> str:
    """Job: download media ``media_id`` of message ``message_id`` into storage."""
    return await download(ctx["gateway"], uuid.UUID(message_id), media_id)


async def download(gateway: Gateway, message_id: uuid.UUID, media_id: str) -> str:
    """One attempt at one file; returns the row's new status (``skipped``: not due, or held)."""
    settings: WhatsAppSettings = gateway.plugin_config("whatsapp")
    if not settings.media.download:
        return "skipped"  # switched off since it was queued: the row waits for it to return
    attempt = await _claim(gateway, message_id, media_id)
    if attempt is None:
        return "skipped"
    where = (media.c.message_id == message_id, media.c.media_id == media_id, media.c.attempts == attempt)
    try:
        fetched = await _fetch(gateway, settings, media_id)
    except Rejected as err:
        return await _finish(gateway, where, "rejected", error=str(err))
    except Unavailable as err:
        return await _finish(gateway, where, "failed", error=str(err))
    except (Transient, httpx.TransportError, httpx.TimeoutException, OSError) as err:
        return await _retry(gateway, settings, where, media_id, attempt, f"{type(err).__name__}: {err}")
    log.info("WhatsApp media %s stored (%d bytes, %s)", media_id, fetched.size, fetched.mime_type)
    return await _finish(
        gateway,
        where,
        "stored",
        path=str(fetched.path),
        size=fetched.size,
        sha256=fetched.sha256,
        mime_type=fetched.mime_type,
        stored_at=datetime.now(UTC),
    )


async def _claim(gateway: Gateway, message_id: uuid.UUID, media_id: str) -> int | None:
    now = datetime.now(UTC)
    lease = timedelta(seconds=gateway.settings.queue.job_timeout)
    due = sa.or_(
        sa.and_(media.c.status.in_(("pending", "retrying")), media.c.next_attempt_at <= now),
        sa.and_(media.c.status == "downloading", media.c.lease_until < now),
    )
    async with gateway.db.transaction() as conn:
        claimed = (
            await conn.execute(
                sa.update(media)
                .where(media.c.message_id == message_id, media.c.media_id == media_id, due)
                .values(status="downloading", attempts=media.c.attempts + 1, lease_until=now + lease, updated_at=now)
                .returning(media.c.attempts)
            )
        ).first()
    return None if claimed is None else int(claimed.attempts)


async def _finish(gateway: Gateway, where: tuple[Any, ...], status: str, **values: Any) -> str:
    if status != "stored":
        log.warning("WhatsApp media download %s: %s", status, values.get("error"))
    async with gateway.db.transaction() as conn:
        await conn.execute(
            sa.update(media)
            .where(*where, media.c.status == "downloading")
            .values(status=status, lease_until=None, next_attempt_at=None, updated_at=datetime.now(UTC), **values)
        )
    return status


async def _retry(
    gateway: Gateway,
    settings: WhatsAppSettings,
    where: tuple[Any, ...],
    media_id: str,
    attempt: int,
    error: str,
) -> str:
    if attempt >= settings.media.max_attempts:
        return await _finish(gateway, where, "failed", error=f"{error} (gave up after {attempt} attempts)")
    delay = min(30.0 * 4 ** (attempt - 1), 6 * 3600.0)
    async with gateway.db.transaction() as conn:
        await conn.execute(
            sa.update(media)
            .where(*where, media.c.status == "downloading")
            .values(
                status="retrying",
                error=error,
                lease_until=None,
                next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay),
                updated_at=datetime.now(UTC),
            )
        )
    # The sweep enqueues it once due: a deferred arq job would keep a burst worker waiting.
    log.info("WhatsApp media %s: attempt %d failed (%s); again in %.0f s", media_id, attempt, error, delay)
    return "retrying"


async def _fetch(gateway: Gateway, settings: WhatsAppSettings, media_id: str) -> Fetched:
    if not settings.access_token:
        raise Unavailable("[plugins.whatsapp] access_token is not set")
    limit = settings.media.max_bytes
    auth = {"Authorization": f"Bearer {settings.access_token}"}
    timeout = httpx.Timeout(settings.timeout) if settings.timeout else httpx.USE_CLIENT_DEFAULT
    answer = await gateway.http.get(settings.node_url(media_id), headers=auth, timeout=timeout)
    if not answer.is_success:
        error = GraphError.from_response(answer)
        text = error.describe() if error else f"Graph answered HTTP {answer.status_code}"
        if answer.status_code >= 500 or answer.status_code == 429 or (error is not None and error.retryable):
            raise Transient(text)
        raise Unavailable(text)
    info = _metadata(answer)
    declared_type = str(info.get("mime_type") or "").split(";")[0].strip().lower()
    if declared_type and not type_allowed(declared_type, settings.media.allowed_types):
        raise Rejected(f"type {declared_type} is not in media.allowed_types")
    declared_size = bounded_int(str(info.get("file_size", "")), low=0)
    if declared_size is not None and declared_size > limit:
        raise Rejected(f"{declared_size} bytes is more than media.max_bytes ({limit})")

    folder = storage_dir(gateway) / datetime.now(UTC).strftime("%Y/%m")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    partial = folder / f".{uuid.uuid4().hex}.part"
    try:
        async with gateway.http.stream("GET", info["url"], headers=auth, timeout=timeout) as response:
            if not response.is_success:
                raise Transient(f"the download answered HTTP {response.status_code}")
            header = response.headers.get("content-type", "").split(";")[0].strip().lower()
            content_type = header or declared_type
            if not content_type or not type_allowed(content_type, settings.media.allowed_types):
                raise Rejected(f"type {content_type or '(none)'} is not in media.allowed_types")
            size, digest = await _save(response, partial, limit)
        expected = str(info.get("sha256") or "")
        if expected and expected not in (digest.hex(), base64.b64encode(digest).decode()):
            raise Transient("the file does not match its sha256")
        extension = mimetypes.guess_extension(content_type) or ".bin"
        final = folder / f"{_UNSAFE.sub('_', media_id)[:120]}{extension}"
        if gateway.privacy.enabled:
            # A person's file: sealed at rest with the data key (docs/privacy.md).
            await asyncio.to_thread(_seal_file, gateway, partial)
        await asyncio.to_thread(os.replace, partial, final)
    finally:
        await asyncio.to_thread(partial.unlink, missing_ok=True)
    return Fetched(final, size, digest.hex(), content_type)


def _seal_file(gateway: Gateway, path: Path) -> None:
    path.write_bytes(gateway.privacy.seal_bytes(path.read_bytes()))


def read_file(gateway: Gateway, path: Path) -> bytes:
    """A stored media file's bytes, opened when it was sealed with the data key."""
    return gateway.privacy.open_bytes(path.read_bytes())


def _metadata(answer: httpx.Response) -> dict[str, Any]:
    """Graph's media node: ``url``, ``mime_type``, ``sha256``, ``file_size``, ``id``."""
    try:
        info = answer.json()
    except ValueError as err:
        raise Transient("Graph's media answer is not JSON") from err
    if not isinstance(info, dict) or not isinstance(info.get("url"), str) or not info["url"].startswith("http"):
        raise Transient("Graph's media answer has no download url")
    return info


async def _save(response: httpx.Response, path: Path, limit: int) -> tuple[int, bytes]:
    """Stream the body into ``path``; stop (``Rejected``) as soon as it passes ``limit`` bytes."""
    hasher = hashlib.sha256()
    size = 0
    file = await asyncio.to_thread(path.open, "wb")
    try:
        async for chunk in response.aiter_bytes(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise Rejected(f"the file is larger than media.max_bytes ({limit})")
            hasher.update(chunk)
            await asyncio.to_thread(file.write, chunk)
    finally:
        await asyncio.to_thread(file.close)
    return size, hasher.digest()


async def sweep(ctx: dict[str, Any]) -> None:
    """Cron: enqueue downloads that are due: retries, lost enqueues, a killed worker's claims."""
    gateway: Gateway = ctx["gateway"]
    settings: WhatsAppSettings = gateway.plugin_config("whatsapp")
    if not settings.media.download:
        return
    now = datetime.now(UTC)
    due = sa.or_(
        sa.and_(media.c.status == "retrying", media.c.next_attempt_at <= now),
        # A fresh row's job was enqueued at ingest: give it time to run before doubting it.
        sa.and_(media.c.status == "pending", media.c.next_attempt_at <= now - _SWEEP_GRACE),
        sa.and_(media.c.status == "downloading", media.c.lease_until < now),
    )
    async with gateway.db.transaction() as conn:
        rows = (await conn.execute(sa.select(media.c.message_id, media.c.media_id).where(due).limit(500))).all()
    for row in rows:
        await gateway.queue.enqueue_job(DOWNLOAD_JOB, str(row.message_id), row.media_id)


SWEEP = CronJob("whatsapp-media-sweep", sweep, every=60)
