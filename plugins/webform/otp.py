"""One-time codes: e-mailed to a form user, checked once, then exchanged for a form token.

State lives in ``webform_verifications`` (shared by every process). A code is 6 digits from
``secrets``, stored as SHA-256(salt + code) and compared in constant time. A wrong guess is
counted before the comparison, by a conditional update, so that concurrent guesses cannot
exceed ``max_attempts`` between them; a send is counted the same way (``webform_send_counts``),
so concurrent requests cannot mail more than ``max_sends`` codes between them.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from core import (
    BadRequest,
    Gateway,
    HTTPError,
    MailError,
    NotFound,
    TooManyRequests,
    UTCDateTime,
    constant_time_equal,
    issue_token,
)
from plugins.webform.models import send_counts, verifications
from plugins.webform.organisations import Org, settings_of

log = logging.getLogger("switchboard.webform")
AUDIENCE = "webform"
# The refusals of check_code, by which plugins/webform/cfcbe.py gives CFCBE's texts instead.
NO_PENDING = "no verification is pending for this address: request a code first"
EXPIRED = "the code has expired: request a new code"
WRONG_CODE = "wrong code"
NOT_SENT = "the verification e-mail could not be sent; try again later"


def _hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def mask_email(email: str) -> str:
    """``j***@example.org``, for logs."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


async def count_send(conn: AsyncConnection, email: str, now: datetime, window: int, max_sends: int) -> bool:
    """Count one send to ``email``; ``False`` (nothing counted) when ``max_sends`` were sent in its window.

    One conditional upsert: PostgreSQL locks the row and re-checks the condition on its latest
    version, SQLite holds the write lock for the statement, so concurrent sends from any number
    of processes are counted one after the other (counting rows first, then inserting, let ten
    concurrent requests all see fewer than ``max_sends``). A window opens at the first send
    after the previous one closed.
    """
    c = send_counts.c
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    insert = dialect_insert(send_counts).values(email=email, window_start=now, sends=1)
    closed = c.window_start <= sa.literal(now - timedelta(seconds=window), UTCDateTime())
    counted = insert.on_conflict_do_update(
        index_elements=[c.email],
        set_={
            "sends": sa.case((closed, 1), else_=c.sends + 1),
            "window_start": sa.case((closed, insert.excluded.window_start), else_=c.window_start),
        },
        where=sa.or_(closed, c.sends < max_sends),
    ).returning(c.sends)
    return (await conn.execute(counted)).first() is not None


async def send_code(gateway: Gateway, org: Org, email: str) -> int:
    """E-mail a new code for ``org`` to ``email``; returns its lifetime in seconds.

    429 after ``max_sends`` codes to the e-mail within ``send_window``; 502 when the SMTP
    server will not take the mail (and then nothing is recorded: the send does not count).
    """
    settings = settings_of(gateway)
    now = datetime.now(UTC)
    code = f"{secrets.randbelow(10**6):06d}"
    salt = secrets.token_hex(16)
    v = verifications.c
    async with gateway.db.transaction() as conn:
        if not await count_send(conn, email, now, settings.send_window, settings.max_sends):
            minutes = max(1, settings.send_window // 60)
            raise TooManyRequests(
                f"at most {settings.max_sends} codes are sent to one address in {minutes} minutes; try again later",
                headers={"Retry-After": str(settings.send_window)},
            )
        # A new code replaces the pending one of this organisation.
        await conn.execute(
            verifications.update()
            .where(gateway.privacy.match(v.email, email), v.organisation == org.slug, v.consumed_at.is_(None))
            .values(consumed_at=now)
        )
        row_id = (
            await conn.execute(
                verifications.insert()
                .values(
                    email=email,
                    organisation=org.slug,
                    salt=salt,
                    code_hash=_hash(salt, code),
                    attempts=0,
                    created_at=now,
                    expires_at=now + timedelta(seconds=settings.code_ttl),
                )
                .returning(v.id)
            )
        ).scalar_one()
    minutes = settings.code_ttl // 60
    text = (
        f"Your verification code for {org.name} is {code}.\n\n"
        f"It expires in {minutes} minutes. If you did not ask for it, ignore this e-mail.\n"
    )
    try:
        await gateway.mail.send(email, settings.code_subject, text)
    except MailError as err:
        async with gateway.db.transaction() as conn:
            await conn.execute(verifications.delete().where(v.id == row_id))
            await conn.execute(
                send_counts.update()
                .where(gateway.privacy.match(send_counts.c.email, email), send_counts.c.sends > 0)
                .values(sends=send_counts.c.sends - 1)
            )
        log.warning("webform: the code for %s could not be sent: %s", mask_email(email), err)
        raise HTTPError(NOT_SENT, status_code=502) from err
    log.info("webform: code sent to %s for %s", mask_email(email), org.slug)
    return settings.code_ttl


async def check_code(gateway: Gateway, org: Org, email: str, code: str) -> tuple[str, int]:
    """Exchange a right code for a form token (``(token, ttl)``); the code is then used up.

    404 without a pending code, 400 for an expired or wrong one, 429 after ``max_attempts``.
    """
    settings = settings_of(gateway)
    now = datetime.now(UTC)
    v = verifications.c
    async with gateway.db.transaction() as conn:
        row = (
            await conn.execute(
                sa.select(v.id, v.salt, v.code_hash, v.attempts, v.expires_at)
                .where(gateway.privacy.match(v.email, email), v.organisation == org.slug, v.consumed_at.is_(None))
                .order_by(v.id.desc())
                .limit(1)
            )
        ).first()
        if row is None:
            raise NotFound(NO_PENDING)
        if row.attempts >= settings.max_attempts:
            raise TooManyRequests("too many wrong codes: request a new code")
        if row.expires_at <= now:
            raise BadRequest(EXPIRED)
        counted = await conn.execute(
            verifications.update()
            .where(v.id == row.id, v.attempts < settings.max_attempts, v.consumed_at.is_(None))
            .values(attempts=v.attempts + 1)
        )
    if counted.rowcount != 1:
        raise TooManyRequests("too many wrong codes: request a new code")
    if not constant_time_equal(_hash(row.salt, code), row.code_hash):
        raise BadRequest(WRONG_CODE)
    async with gateway.db.transaction() as conn:
        used = await conn.execute(
            verifications.update().where(v.id == row.id, v.consumed_at.is_(None)).values(consumed_at=now)
        )
    if used.rowcount != 1:  # the same code used by a concurrent request
        raise NotFound(NO_PENDING)
    token = issue_token(gateway, email, audience=AUDIENCE, ttl=settings.token_ttl, org=org.slug)
    return token, settings.token_ttl
