"""Erasing a WhatsApp user: their media files, opt-out record and messages go; other users' stay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from core.testing import stored_messages, user_headers
from plugins.whatsapp.models import contacts
from tests.whatsapp.support import WA_ID, payload, post_webhook, wait_for_media

JPEG = b"\xff\xd8\xff\xe0" + b"receipt-photo" * 500


async def test_erasing_a_whatsapp_user_removes_their_media_file_and_opt_out_record(
    whatsapp_client: Any, graph: Any
) -> None:
    graph.add_media("1003383421387256", JPEG, "image/jpeg")
    async with whatsapp_client(media={"download": True}) as client:
        await post_webhook(client, payload("image"))
        [row] = await wait_for_media(client.gateway)
        now = sa.func.now()
        async with client.gateway.db.transaction() as conn:
            await conn.execute(sa.insert(contacts).values(wa_id=WA_ID, opted_out=True, updated_at=now))
            await conn.execute(sa.insert(contacts).values(wa_id="15550001111", opted_out=True, updated_at=now))
        headers = await user_headers(client.gateway, "admin")
        answer = await client.post("/api/privacy/erasures", json={"participant": WA_ID}, headers=headers)
        again = await client.post("/api/privacy/erasures", json={"participant": WA_ID}, headers=headers)
        [message] = await stored_messages(client.gateway)
        async with client.gateway.db.transaction() as conn:
            left = list((await conn.execute(sa.select(contacts.c.wa_id))).scalars())
            media_row = (await conn.execute(sa.text("SELECT path, sha256 FROM whatsapp_media"))).one()
    assert answer.status_code == 200, answer.text
    tables = answer.json()["tables"]
    assert (tables["whatsapp_media"], tables["whatsapp_contacts"], tables["messages"]) == (1, 1, 1)
    assert not Path(row.path).exists()
    assert tuple(media_row) == (None, None)
    assert left == ["15550001111"]
    assert (message.sender, message.text, message.raw) == (None, None, None)
    assert WA_ID not in json.dumps([str(v) for v in message])
    assert again.json()["total"] == 0
