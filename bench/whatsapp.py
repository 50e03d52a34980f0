"""WhatsApp webhook benchmark: parsing, signature checks, and signed webhooks stored end to end.

    python -m bench.whatsapp [--posts 2000] [--concurrency 50]

Prints how fast Cloud API payloads are parsed and signatures checked (in this process), and
how many messages per second signed webhooks store through the app on the embedded default
(SQLite, in-process queue; ASGI in-process, so no HTTP server in the figure), with one POST in
four carrying statuses that are applied to sent messages.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import tempfile
import time
from typing import Any

from core.testing import gateway_client, make_settings
from plugins.whatsapp.adapter import signature_matches
from plugins.whatsapp.inbound import parse_webhook

SECRET = "bench-app-secret-0123456789"
PHONE_NUMBER_ID = "106540352242922"


def envelope(messages: list[dict[str, Any]], statuses: list[dict[str, Any]] | None = None) -> bytes:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Bench"}, "wa_id": m["from"]} for m in messages]
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    data = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(data, separators=(",", ":")).encode()


def text_message(n: int) -> dict[str, Any]:
    return {
        "from": f"2557{n % 100_000:08d}",
        "id": f"wamid.bench{n:012d}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": f"Habari, message number {n}"},
    }


def status(n: int, name: str) -> dict[str, Any]:
    return {
        "id": f"wamid.out{n:012d}",
        "status": name,
        "timestamp": str(int(time.time())),
        "recipient_id": "255700000001",
    }


def micro(posts: int) -> None:
    body = envelope([text_message(n) for n in range(10)])
    started = time.perf_counter()
    for _ in range(posts):
        parse_webhook(body)
    parse_s = (time.perf_counter() - started) / posts
    header = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    started = time.perf_counter()
    for _ in range(posts):
        signature_matches(body, header, ["retired-secret", SECRET])
    sign_s = (time.perf_counter() - started) / posts
    print(f"parse: {parse_s * 1e6:.0f} µs per POST of 10 messages ({len(body)} bytes): {10 / parse_s:,.0f} messages/s")
    print(f"signature (2 secrets, rotation): {sign_s * 1e6:.1f} µs per POST")


async def end_to_end(posts: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(
            tmp,
            plugins={"whatsapp": {"app_secret": SECRET, "phone_number_id": PHONE_NUMBER_ID}},
            audit={"flush_interval": 0.5},
        )
        async with gateway_client(settings) as client:
            bodies = []
            for i in range(posts):
                if i % 4 == 3:
                    bodies.append(envelope([], [status(i, "delivered"), status(i, "read")]))
                else:
                    bodies.append(envelope([text_message(i * 3 + k) for k in range(3)]))
            queue: asyncio.Queue[bytes] = asyncio.Queue()
            for body in bodies:
                queue.put_nowait(body)
            stored = 0

            async def post() -> None:
                nonlocal stored
                while not queue.empty():
                    body = queue.get_nowait()
                    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                    answer = await client.post(
                        "/webhooks/whatsapp", content=body, headers={"X-Hub-Signature-256": signature}
                    )
                    stored += answer.json()["stored"]

            started = time.perf_counter()
            await asyncio.gather(*(post() for _ in range(concurrency)))
            elapsed = time.perf_counter() - started
    print(
        f"end to end (SQLite, {concurrency} concurrent): {posts} POSTs, {stored} messages and statuses stored"
        f" in {elapsed:.1f} s: {posts / elapsed:,.0f} POSTs/s, {stored / elapsed:,.0f} stored/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    micro(args.posts)
    asyncio.run(end_to_end(args.posts, args.concurrency))


if __name__ == "__main__":
    main()
