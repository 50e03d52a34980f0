"""Erasing one person who has ``--person`` messages among ``--rows`` messages, on PostgreSQL.

    python bench/erasure.py [--rows 1000000] [--person 10000]

A database is created for the run (and dropped after it) and seeded in bulk (``INSERT … SELECT
generate_series``): ``rows`` messages from 50,000 senders, each with one delivery (a tenth
retrying, a tenth dead, the rest delivered, with response details) and one attempt (with an
error and a response excerpt); ``person`` of them, spread over the whole period, are the
person's, in one conversation. Then ``switchboard privacy erase`` is timed (with every built-in
plugin enabled, so their ``switchboard_erase_messages`` and ``switchboard_erase_participant``
hooks run), and a second erasure of the same person (which finds nothing left). Prints the
seconds of each and what the first erased, per table. Figures go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bench.harness import create_database, drop_database  # noqa: E402
from core.operations.erasure import erase_participant  # noqa: E402
from core.testing import gateway_client, make_settings  # noqa: E402

PERSON = "+256700000001"
CONVERSATION = "01000000-0000-7000-8000-000000000001"
_ID = "(lpad(to_hex({start} + g::bigint * 2500), 12, '0') || '7' || substr(md5({salt} || g::text), 1, 19))::uuid"


def _id(salt: str) -> str:
    return _ID.replace("{salt}", f"'{salt}'")


_SEED = [
    f"""INSERT INTO conversations (id, platform, participant, status, opened_at, last_message_at, message_count, state)
       VALUES ('{CONVERSATION}', 'whatsapp', '{PERSON}', 'open', now(), now(), {{person}}, '{{{{"step": 3}}}}')""",
    f"""INSERT INTO messages (id, platform, external_id, direction, kind, sender, sender_name, recipient, text, media,
           timestamp, conversation_id, raw, extra, received_at)
       SELECT {_id("m")}, 'whatsapp', 'wamid.' || g, 'in', 'text',
              CASE WHEN g % {{every}} = 0 THEN '{PERSON}' ELSE 'p' || (g % 50000) END, 'Name ' || g, NULL,
              'message text ' || g, '[]', to_timestamp(({{start}} + g::bigint * 2500) / 1000.0),
              CASE WHEN g % {{every}} = 0 THEN '{CONVERSATION}'::uuid END, '{{{{"body": "raw"}}}}', '{{{{}}}}',
              to_timestamp(({{start}} + g::bigint * 2500) / 1000.0)
       FROM generate_series(1, {{rows}}) AS g""",
    f"""INSERT INTO deliveries (id, message_id, destination, platform, status, attempt_count, max_attempts,
           last_error, detail, options, idempotency_key, created_at, updated_at, next_attempt_at)
       SELECT {_id("d")}, {_id("m")}, 'crm', 'whatsapp',
              CASE (g / 7) % 10 WHEN 0 THEN 'dead' WHEN 1 THEN 'retrying' ELSE 'delivered' END, 1, 5,
              'HTTP 503 from the destination', '{{{{"response": "summary"}}}}', '{{{{}}}}', md5('k' || g),
              to_timestamp(({{start}} + g::bigint * 2500) / 1000.0), to_timestamp(({{start}} + g::bigint * 2500) / 1000.0),
              CASE WHEN (g / 7) % 10 = 1 THEN now() + interval '1 day' END
       FROM generate_series(1, {{rows}}) AS g""",
    f"""INSERT INTO delivery_attempts (delivery_id, number, started_at, duration_ms, outcome, status_code, error,
           response_excerpt, detail)
       SELECT {_id("d")}, 1, to_timestamp(({{start}} + g::bigint * 2500 + 200) / 1000.0), 180.0, 'retry', 503,
              'HTTP 503', 'the body of the answer', '{{{{"request": "body"}}}}'
       FROM generate_series(1, {{rows}}) AS g""",
]


async def run(rows: int, person: int) -> dict[str, Any]:
    name, url = await create_database()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = make_settings(Path(tmp), database_url=url, queue={"backend": "local"})
            async with gateway_client(settings, run_queue=False) as client:
                gateway = client.gateway
                start = int(time.time() * 1000) - rows * 2500
                started = time.perf_counter()
                async with gateway.db.transaction() as conn:
                    for statement in _SEED:
                        sql = statement.format(rows=rows, person=person, every=rows // person, start=start)
                        await conn.execute(sa.text(sql))
                async with gateway.db.engine.connect() as conn:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    await conn.execute(sa.text("ANALYZE"))
                seeded = time.perf_counter() - started
                started = time.perf_counter()
                first = await erase_participant(gateway, PERSON, actor="bench")
                erased = time.perf_counter() - started
                started = time.perf_counter()
                second = await erase_participant(gateway, PERSON, actor="bench")
                again = time.perf_counter() - started
                async with gateway.db.transaction() as conn:
                    left = await conn.scalar(sa.text(f"SELECT count(*) FROM messages WHERE sender = '{PERSON}'"))
    finally:
        await drop_database(name)
    return {
        "rows": rows,
        "person_messages": person,
        "seed_s": round(seeded, 1),
        "erase_s": round(erased, 2),
        "erase_again_s": round(again, 2),
        "left": left,
        "erased": {k: v for k, v in first["tables"].items() if v},
        "cancelled_deliveries": first["cancelled_deliveries"],
        "second_total": second["total"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--person", type=int, default=10_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.rows, args.person)), indent=2))


if __name__ == "__main__":
    main()
