"""WhatsApp with a data key: nothing a person sent or receives is readable at rest, all of it through the API."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

from core.testing import conversation_of, run_jobs, stored_messages, user_headers, wait_until
from tests.conftest import Stack
from tests.fakes.graph_api import FakeGraph
from tests.privacy.support import KEY, leaked, stored_bytes
from tests.whatsapp.conftest import graph, whatsapp_settings  # noqa: F401 - the fixture
from tests.whatsapp.support import WA_ID, outbound_message, payload, post_webhook, send, wait_for_media


def _markers() -> tuple[str, str, str]:
    tag = uuid.uuid4().hex[:10]
    number = "2567" + str(uuid.uuid4().int)[:8]
    return number, f"Marker text {tag} about my problem", f"Reply marker {tag}"


async def test_whatsapp_content_and_numbers_are_sealed_at_rest_and_clear_through_the_api(
    clean_stack: Stack,
    app_client: Callable[..., Any],
    graph: FakeGraph,  # noqa: F811
) -> None:
    number, text, reply = _markers()
    inbound = json.loads(
        json.dumps(payload("text"))
        .replace(WA_ID, number)
        .replace("Hello, I need help with my account", text)
        .replace("Kerry Fisher", f"Name {number}")
    )
    async with app_client(
        plugins={"whatsapp": whatsapp_settings(graph)},
        privacy={"key": KEY},
        audit={"capture_payloads": True, "max_payload_bytes": 100_000, "redact_keys": []},
    ) as client:
        assert (await post_webhook(client, inbound)).status_code == 200
        delivery = await send(client.gateway, outbound_message(reply, to=number))
        assert delivery.status == "delivered"

        stored = await stored_bytes(clean_stack)
        assert leaked(stored, [number, text, reply, f"Name {number}"]) == []

        headers = await user_headers(client.gateway)
        r = await client.get("/api/messages", params={"participant": number}, headers=headers)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert {m["text"] for m in items} == {text, reply}
        assert {m["sender"] for m in items if m["direction"] == "in"} == {number}
        assert {m["recipient"] for m in items if m["direction"] == "out"} == {number}
        incoming = next(m for m in items if m["direction"] == "in")
        r = await client.get(f"/api/messages/{incoming['id']}", headers=headers)
        assert text in json.dumps(r.json()["raw"]) and r.json()["text"] == text
        r = await client.get("/api/conversations", params={"participant": number}, headers=headers)
        assert [c["participant"] for c in r.json()["items"]] == [number]
        assert (await conversation_of(client.gateway, number)) is not None
        assert len(await stored_messages(client.gateway, sender=number)) == 1
        assert graph.sends()[-1]["to"] == number  # what the destination sent: in clear


async def test_whatsapp_media_files_are_sealed_on_disk_and_served_in_clear(
    clean_stack: Stack,
    app_client: Callable[..., Any],
    graph: FakeGraph,  # noqa: F811
) -> None:
    photo = b"\xff\xd8\xff\xe0" + f"photo marker {uuid.uuid4().hex}".encode() * 50
    graph.add_media("1003383421387256", photo, "image/jpeg")
    media = {"download": True, "allowed_types": ["image/*"]}
    async with app_client(plugins={"whatsapp": whatsapp_settings(graph, media=media)}, privacy={"key": KEY}) as client:
        await post_webhook(client, payload("image"))
        [row] = await wait_for_media(client.gateway)
        assert row.status == "stored"
        assert leaked(await stored_bytes(clean_stack), [photo[4:60].decode()]) == []
        [message] = await stored_messages(client.gateway)
        url = f"/plugins/whatsapp/messages/{message.id}/media/1003383421387256"
        answer = await client.get(url, headers=await user_headers(client.gateway, "viewer"))
    assert answer.status_code == 200
    assert answer.content == photo
    assert answer.headers["content-disposition"].startswith("attachment")


async def test_a_persons_export_is_a_zip_with_their_media_files_opened_and_sealed_at_rest(
    clean_stack: Stack,
    app_client: Callable[..., Any],
    graph: FakeGraph,  # noqa: F811
) -> None:
    photo = b"\xff\xd8\xff\xe0" + f"photo marker {uuid.uuid4().hex}".encode() * 50
    graph.add_media("1003383421387256", photo, "image/jpeg")
    media = {"download": True, "allowed_types": ["image/*"]}
    async with app_client(plugins={"whatsapp": whatsapp_settings(graph, media=media)}, privacy={"key": KEY}) as client:
        await post_webhook(client, payload("image"))
        await wait_for_media(client.gateway)
        [message] = await stored_messages(client.gateway)
        admin = await user_headers(client.gateway, "admin")
        r = await client.post("/api/privacy/exports", json={"participant": WA_ID}, headers=admin)
        assert r.status_code == 202, r.text
        export_id = r.json()["id"]

        async def done() -> dict[str, Any] | None:
            await run_jobs(client.gateway, share=True)
            status: dict[str, Any] = (await client.get(f"/api/privacy/exports/{export_id}", headers=admin)).json()
            return status if status["status"] == "done" else None

        status = await wait_until(done, timeout=30, message="the export to be done")
        assert status["counts"]["files"] == 1 and status["counts"]["whatsapp_media"] == 1
        assert leaked(await stored_bytes(clean_stack), [photo[4:60].decode(), WA_ID]) == []  # the archive too
        answer = await client.get(status["download_url"])
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    assert answer.headers["content-disposition"] == f'attachment; filename="participant-export-{export_id}.zip"'
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        name = f"files/whatsapp/{message.id}-1003383421387256.jpg"
        assert sorted(archive.namelist()) == ["export.json", name]
        assert archive.read(name) == photo
        document = json.loads(archive.read("export.json"))
    assert document["participant"] == WA_ID and [m["id"] for m in document["core"]["messages"]] == [str(message.id)]
