"""Helpers of the WhatsApp tests: Meta-shaped payloads, signing, reading what was stored."""

from __future__ import annotations

import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from core import Gateway, StandardMessage
from core.testing import after_commit, deliveries_of, drain, hmac_sha256, run_jobs, settle, wait_until
from plugins.whatsapp.models import media, outbound

PAYLOADS = Path(__file__).parent / "payloads"
APP_SECRET = "8d4f1c2b6a9e4f0d8c7b6a5e4d3c2b1a"
VERIFY_TOKEN = "helpline-verify-7f3a9c"
PHONE_NUMBER_ID = "106540352242922"
WA_ID = "16505551234"


def payload(name: str) -> dict[str, Any]:
    """A webhook body from ``payloads/<name>.json`` (a fresh copy, free to change).

    Its timestamps are moved to the last few minutes, keeping their order, as Meta's would
    be: a conversation idle for a day is closed, and the files were written long ago.
    """
    data = json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))
    _shift_timestamps(data, int(time.time()) - _NEWEST_FIXTURE_TIME)
    return copy.deepcopy(data)


_NEWEST_FIXTURE_TIME = 1716900300


def _shift_timestamps(node: Any, seconds: int) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("timestamp", "expiration_timestamp") and isinstance(value, str) and value.isdigit():
                node[key] = str(int(value) + seconds)
            else:
                _shift_timestamps(value, seconds)
    elif isinstance(node, list):
        for item in node:
            _shift_timestamps(item, seconds)


def first_item(data: dict[str, Any], key: str = "messages") -> dict[str, Any]:
    return data["entry"][0]["changes"][0]["value"][key][0]  # type: ignore[no-any-return]


def status_payload(name: str, wamid: str, **fields: Any) -> dict[str, Any]:
    """``payloads/status_<name>.json`` about message ``wamid``."""
    data = payload(f"status_{name}")
    first_item(data, "statuses").update(id=wamid, **fields)
    return data


def body_of(data: dict[str, Any] | bytes) -> bytes:
    # Meta's bodies are compact JSON with non-ASCII characters escaped.
    return data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"X-Hub-Signature-256": f"sha256={hmac_sha256(secret, body)}", "Content-Type": "application/json"}


async def post_webhook(client: Any, data: dict[str, Any] | bytes, secret: str = APP_SECRET) -> Any:
    """POST a signed webhook; returns once what it set off in this process has run too.

    The plugin's messages-stored hook (statuses applied, opt-outs, replies submitted) runs
    after the commit, beside the answer: waiting for it makes "nothing happened" provable.
    """
    body = body_of(data)
    answer = await client.post("/webhooks/whatsapp", content=body, headers=signed(body, secret))
    await after_commit(client.gateway)
    return answer


async def tracking(gateway: Gateway, wamid: str) -> Any:
    async with gateway.db.transaction() as conn:
        return (await conn.execute(sa.select(outbound).where(outbound.c.wamid == wamid))).first()


async def media_rows(gateway: Gateway) -> list[Any]:
    async with gateway.db.transaction() as conn:
        return list((await conn.execute(sa.select(media).order_by(media.c.id))).all())


async def wait_for_media(gateway: Gateway, *, timeout: float = 15.0) -> list[Any]:
    """Run media jobs (an arq worker on the postgres stack) until no download is in flight; the media rows."""

    async def downloaded() -> list[Any] | None:
        await run_jobs(gateway)
        rows = await media_rows(gateway)
        return rows if rows and all(r.status not in ("pending", "downloading") for r in rows) else None

    return await wait_until(downloaded, timeout=timeout, interval=0, message="media downloads to finish")


def outbound_message(
    text: str | None = "We are here to help.", *, kind: str = "text", to: str = WA_ID, **spec: Any
) -> Any:
    """An outbound standard message to ``to``; ``spec`` becomes ``extra["whatsapp"]``."""
    return StandardMessage(
        platform="whatsapp",
        external_id=f"reply-{uuid.uuid4().hex}",
        kind=kind,
        direction="out",
        recipient=to,
        text=text,
        extra={"whatsapp": spec} if spec else {},
    )


async def send(gateway: Gateway, message: Any) -> Any:
    """Submit ``message`` to the whatsapp destination, run deliveries, return its delivery row."""
    [stored] = await gateway.submit([message], destinations=["whatsapp"])
    if gateway.settings.queue.backend == "arq":
        # In this task: an arq burst worker would also sit out the delay of a scheduled retry.
        await drain(gateway)
    else:
        await settle(gateway)
    [delivery] = await deliveries_of(gateway, stored.message_id)
    return delivery
