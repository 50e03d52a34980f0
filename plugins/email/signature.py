"""The inbound-parse webhook's signature, Mailgun's way.

``signature`` = hex HMAC-SHA256(signing key, ``timestamp`` + ``token``). A timestamp more
than ``max_age`` seconds away from now is refused (a captured post replayed later), and so is
a token seen before (a captured post replayed at once): tokens are kept for ``max_age``
seconds in ``email_seen_tokens``, shared by every process.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from core import AuthenticationError, Gateway, constant_time_equal
from plugins.email.models import seen_tokens


def expected(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


async def check(gateway: Gateway, key: str | None, max_age: int, fields: dict[str, str | None]) -> None:
    """Raise ``AuthenticationError`` unless the fields carry a fresh, unused, valid signature."""
    if not key:
        raise AuthenticationError("inbound e-mail is not configured: set [plugins.email] signing_key")
    timestamp, token, signature = fields.get("timestamp"), fields.get("token"), fields.get("signature")
    if not timestamp or not token or not signature:
        raise AuthenticationError("the post is not signed (timestamp, token and signature are required)")
    if len(token) > 255 or not constant_time_equal(signature.lower(), expected(key, timestamp, token)):
        raise AuthenticationError("bad signature")
    try:
        signed_at = int(timestamp)
    except ValueError as err:
        raise AuthenticationError("bad timestamp") from err
    if abs(time.time() - signed_at) > max_age:
        raise AuthenticationError(f"stale timestamp: signed more than {max_age} s from now")
    now = datetime.now(UTC)
    async with gateway.db.transaction() as conn:
        await conn.execute(seen_tokens.delete().where(seen_tokens.c.seen_at < now - timedelta(seconds=2 * max_age)))
    try:
        async with gateway.db.transaction() as conn:
            await conn.execute(seen_tokens.insert().values(token=token, seen_at=now))
    except sa.exc.IntegrityError as err:
        raise AuthenticationError("replayed token: this post was received before") from err
