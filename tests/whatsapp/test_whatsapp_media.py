"""Inbound media is resolved through Graph, downloaded with the token, checked and stored."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from core.testing import api_key_headers, stored_messages, user_headers
from plugins.whatsapp import media
from tests.whatsapp.support import first_item, media_rows, payload, post_webhook, wait_for_media

JPEG = b"\xff\xd8\xff\xe0" + b"receipt-photo" * 500
PDF = b"%PDF-1.7\n" + b"referral letter " * 200
DOWNLOAD = {"download": True}


async def test_image_is_downloaded_into_the_data_directory_and_linked_to_its_message(
    whatsapp_client: Any, graph: Any, clean_stack: Any
) -> None:
    graph.add_media("1003383421387256", JPEG, "image/jpeg")
    async with whatsapp_client(media=DOWNLOAD) as client:
        await post_webhook(client, payload("image"))
        [row] = await wait_for_media(client.gateway)
        [message] = await stored_messages(client.gateway)
    assert (row.status, row.message_id, row.media_id) == ("stored", message.id, "1003383421387256")
    assert (row.size, row.mime_type, row.sha256) == (len(JPEG), "image/jpeg", hashlib.sha256(JPEG).hexdigest())
    path = Path(row.path)
    assert path.read_bytes() == JPEG
    assert path.is_relative_to(clean_stack.tmp / "data" / "whatsapp-media")
    assert path.suffix == ".jpg"
    # Both Graph calls carried the token.
    lookups = [r for r in graph.requests if r.method == "GET"]
    assert [r.path for r in lookups] == ["/v24.0/1003383421387256", "/whatsapp_business/attachments/"]
    assert {r.headers["authorization"] for r in lookups} == {f"Bearer {graph.access_token}"}


async def test_stored_media_can_be_fetched_by_staff_as_an_attachment(whatsapp_client: Any, graph: Any) -> None:
    graph.add_media("1167925444611236", PDF, "application/pdf")
    async with whatsapp_client(media=DOWNLOAD) as client:
        await post_webhook(client, payload("document"))
        await wait_for_media(client.gateway)
        [message] = await stored_messages(client.gateway)
        url = f"/plugins/whatsapp/messages/{message.id}/media/1167925444611236"
        anonymous = await client.get(url)
        keyless = await client.get(url, headers=await api_key_headers(client.gateway, ["messages:read"]))
        answer = await client.get(url, headers=await user_headers(client.gateway, "viewer"))
        details = await client.get(
            f"/plugins/whatsapp/messages/{message.id}", headers=await api_key_headers(client.gateway, ["whatsapp:read"])
        )
    assert (anonymous.status_code, keyless.status_code, answer.status_code) == (401, 403, 200)
    assert answer.content == PDF
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].startswith("attachment")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert details.json()["media"][0]["status"] == "stored"


async def test_a_message_id_that_is_not_a_uuid_is_a_message_not_found(whatsapp_client: Any) -> None:
    """core.path_uuid, as every route with an id in its path answers: 404, not 400."""
    async with whatsapp_client() as client:
        headers = await user_headers(client.gateway, "viewer")
        details = await client.get("/plugins/whatsapp/messages/not-a-uuid", headers=headers)
        media = await client.get("/plugins/whatsapp/messages/not-a-uuid/media/1", headers=headers)
    assert (details.status_code, media.status_code) == (404, 404)
    assert details.json()["error"] == "no such message"


async def test_a_file_over_the_size_limit_is_rejected_and_not_kept(whatsapp_client: Any, graph: Any) -> None:
    graph.add_media("1003383421387256", JPEG, "image/jpeg")
    async with whatsapp_client(media={"download": True, "max_bytes": 1024}) as client:
        await post_webhook(client, payload("image"))
        [row] = await wait_for_media(client.gateway)
    assert row.status == "rejected"
    assert "more than media.max_bytes (1024)" in row.error
    assert row.path is None
    # Refused on Graph's declared size: the file itself was never fetched.
    assert all(r.path != "/whatsapp_business/attachments/" for r in graph.requests)


async def test_a_file_whose_size_was_not_declared_is_cut_off_at_the_limit(
    whatsapp_client: Any, graph: Any, tmp_path: Path
) -> None:
    graph.add_media("1003383421387256", JPEG, "image/jpeg")
    graph.declares_size = False
    settings = {"download": True, "max_bytes": 1024, "directory": str(tmp_path)}
    async with whatsapp_client(media=settings) as client:
        await post_webhook(client, payload("image"))
        [row] = await wait_for_media(client.gateway)
    assert row.status == "rejected"
    assert "larger than media.max_bytes" in row.error
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # not even the partial file


async def test_a_type_that_is_not_allowed_is_rejected(whatsapp_client: Any, graph: Any) -> None:
    graph.add_media("1167925444611236", PDF, "application/pdf")
    async with whatsapp_client(media={"download": True, "allowed_types": ["image/*", "audio/*"]}) as client:
        await post_webhook(client, payload("document"))
        [row] = await wait_for_media(client.gateway)
    assert row.status == "rejected"
    assert "application/pdf is not in media.allowed_types" in row.error


async def test_a_download_served_as_another_type_than_declared_is_rejected(whatsapp_client: Any, graph: Any) -> None:
    graph.add_media("1003383421387256", b"<html><script>alert(1)</script>", "image/jpeg", served_as="text/html")
    async with whatsapp_client(media=DOWNLOAD) as client:
        await post_webhook(client, payload("image"))
        [row] = await wait_for_media(client.gateway)
    assert row.status == "rejected"
    assert "text/html" in row.error


async def test_media_graph_does_not_know_fails_with_its_error(whatsapp_client: Any, graph: Any) -> None:
    async with whatsapp_client(media=DOWNLOAD) as client:
        await post_webhook(client, payload("image"))
        [row] = await wait_for_media(client.gateway)
    assert row.status == "failed"
    assert row.error.startswith("Graph error 100/33")


async def test_a_transient_graph_error_is_retried(whatsapp_client: Any, graph: Any) -> None:
    graph.add_media("1003383421387256", JPEG, "image/jpeg")
    graph.fail_media_next(131000, status=500)
    async with whatsapp_client(media=DOWNLOAD) as client:
        await post_webhook(client, payload("image"))
        [row] = await wait_for_media(client.gateway)
        assert (row.status, row.attempts) == ("retrying", 1)
        # The retry is due later; run it now, as the job would.
        await _make_due(client.gateway)
        status = await media.download(client.gateway, row.message_id, row.media_id)
        [row] = await media_rows(client.gateway)
    assert (status, row.status, row.attempts) == ("stored", "stored", 2)


async def test_a_download_is_given_up_after_max_attempts(whatsapp_client: Any, graph: Any) -> None:
    graph.fail_media_next(130429, status=400, times=5)
    async with whatsapp_client(media={"download": True, "max_attempts": 2}) as client:
        await post_webhook(client, payload("image"))
        [row] = await wait_for_media(client.gateway)
        await _make_due(client.gateway)
        await media.download(client.gateway, row.message_id, row.media_id)
        [row] = await media_rows(client.gateway)
    assert row.status == "failed"
    assert "gave up after 2 attempts" in row.error


async def test_a_claimed_download_is_not_run_twice(whatsapp_client: Any, graph: Any) -> None:
    graph.add_media("1003383421387256", JPEG, "image/jpeg")
    async with whatsapp_client(media=DOWNLOAD) as client:
        await post_webhook(client, payload("image"))
        [row] = await wait_for_media(client.gateway)
        again = await media.download(client.gateway, row.message_id, row.media_id)
    assert again == "skipped"
    assert sum(r.path == "/whatsapp_business/attachments/" for r in graph.requests) == 1


async def test_the_sweep_enqueues_downloads_that_were_never_run(whatsapp_client: Any, graph: Any) -> None:
    graph.add_media("1003383421387256", JPEG, "image/jpeg")
    async with whatsapp_client(media=DOWNLOAD) as client:
        gateway = client.gateway
        enqueue, gateway.queue.enqueue_job = gateway.queue.enqueue_job, _lost  # the enqueue at ingest is lost
        await post_webhook(client, payload("image"))
        [row] = await media_rows(gateway)
        assert row.status == "pending"
        gateway.queue.enqueue_job = enqueue
        await _make_due(gateway)
        await media.sweep({"gateway": gateway})
        [row] = await wait_for_media(gateway)
    assert row.status == "stored"


async def test_nothing_is_downloaded_unless_enabled(whatsapp_client: Any, graph: Any) -> None:
    graph.add_media("1003383421387256", JPEG, "image/jpeg")
    async with whatsapp_client() as client:
        await post_webhook(client, payload("image"))
        await stored_messages(client.gateway)
        assert await media_rows(client.gateway) == []
    assert graph.requests == []


async def test_each_media_item_is_queued_once_even_if_the_webhook_repeats(whatsapp_client: Any, graph: Any) -> None:
    graph.add_media("1003383421387256", JPEG, "image/jpeg")
    data = payload("image")
    async with whatsapp_client(media=DOWNLOAD) as client:
        await post_webhook(client, data)
        await post_webhook(client, data)
        rows = await wait_for_media(client.gateway)
    assert [r.media_id for r in rows] == [first_item(data)["image"]["id"]]


async def _lost(*args: Any, **kwargs: Any) -> None:
    raise ConnectionError("queue unavailable")


async def _make_due(gateway: Any) -> None:
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from plugins.whatsapp.models import media as table

    async with gateway.db.transaction() as conn:
        await conn.execute(sa.update(table).values(next_attempt_at=datetime.now(UTC) - timedelta(minutes=5)))
