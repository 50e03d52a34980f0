"""Erasing a person (``POST /api/privacy/erasures``, ``switchboard privacy erase``) and retention."""

from __future__ import annotations

import contextlib
import io
import json
import os
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core import ExportFile, Gateway, hookimpl
from core.builtin import _privacy_retention_job
from core.operations.summary import summary
from core.storage.models import conversations, deliveries, delivery_attempts, messages, privacy_requests
from core.testing import GatewayClient, gateway_client, run_jobs, user_headers, wait_until
from tests.support.auth import audit_rows
from tests.support.privacy import dump_text, rows_of, seed_person

ALICE = "+256700000001"
BOB = "+256700000002"


class Notes:
    """A plugin with a table of its own about people: what the hooks give it, and what it erased."""

    def __init__(self) -> None:
        self.notes: dict[str, str] = {ALICE: "note about alice", BOB: "note about bob"}
        self.erased_messages: list[uuid.UUID] = []

    @hookimpl
    async def switchboard_erase_messages(self, message_ids: Sequence[uuid.UUID]) -> Mapping[str, int]:
        fresh = [i for i in message_ids if i not in self.erased_messages]
        self.erased_messages += fresh
        return {"notes_messages": len(fresh)}

    @hookimpl
    def switchboard_erase_participant(self, participant: str) -> Mapping[str, int]:
        return {"notes": 1 if self.notes.pop(participant, None) else 0}

    @hookimpl
    def switchboard_export_participant(self, participant: str) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        return {"notes": [{"note": self.notes[participant]}] if participant in self.notes else []}


@pytest.fixture
async def gw(app_client) -> Any:  # type: ignore[no-untyped-def]
    notes = Notes()
    async with app_client(extra_plugins=[("notes", notes)]) as client:
        client.notes = notes
        client.headers.update(await user_headers(client.gateway, "admin"))
        yield client


async def _erase(gw: GatewayClient, participant: str) -> dict[str, Any]:
    r = await gw.post("/api/privacy/erasures", json={"participant": participant})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_erasure_answers_what_it_erased_per_table_core_and_plugins(gw: GatewayClient) -> None:
    await seed_person(gw.gateway, ALICE, count=2)
    await seed_person(gw.gateway, BOB, count=1)
    answer = await _erase(gw, ALICE)
    # Two inbound messages and one reply, each with a delivery and an attempt; one conversation.
    # Every table looked at is in the answer (the built-in plugins' too), those changed with their counts.
    assert {"webform_verifications", "device_readings", "whatsapp_contacts"} <= set(answer["tables"])
    assert {table: n for table, n in answer["tables"].items() if n} == {
        "conversations": 1,
        "deliveries": 3,
        "delivery_attempts": 3,
        "messages": 3,
        "notes": 1,
        "notes_messages": 3,
    }
    assert answer["cancelled_deliveries"] == 0
    assert answer["total"] == 14


async def test_erased_rows_hold_nothing_of_the_person_and_others_are_untouched(gw: GatewayClient) -> None:
    alice = await seed_person(gw.gateway, ALICE, count=2)
    await seed_person(gw.gateway, BOB, count=1)
    await _erase(gw, ALICE)
    text = await dump_text(gw.gateway)
    assert ALICE not in text
    assert text.count(BOB) > 10  # Bob's rows are whole
    erased = await rows_of(gw.gateway, messages, messages.c.id.in_(alice["messages"]))
    assert len(erased) == 3  # kept, so counts still add up
    assert {(m.text, m.sender, m.recipient, m.sender_name, m.raw) for m in erased} == {(None,) * 5}
    assert all(m.media == [] and m.extra == {"erased": "erasure"} for m in erased)
    attempts = await rows_of(gw.gateway, delivery_attempts, delivery_attempts.c.delivery_id.in_(alice["deliveries"]))
    assert {(a.error, a.response_excerpt, a.detail, a.status_code) for a in attempts} == {(None, None, None, 500)}
    (conversation,) = await rows_of(gw.gateway, conversations, conversations.c.id == alice["conversations"][0])
    assert conversation.participant.startswith("erased:") and conversation.state == {}
    assert conversation.status == "closed"
    assert gw.notes.notes == {BOB: "note about bob"}  # type: ignore[attr-defined]


async def test_a_waiting_delivery_of_the_person_is_cancelled_as_erased(gw: GatewayClient) -> None:
    alice = await seed_person(gw.gateway, ALICE, count=1, status="retrying")
    bob = await seed_person(gw.gateway, BOB, count=1, status="retrying")
    answer = await _erase(gw, ALICE)
    assert answer["cancelled_deliveries"] == 2
    for d in await rows_of(gw.gateway, deliveries, deliveries.c.id.in_(alice["deliveries"])):
        assert (d.status, d.last_error, d.next_attempt_at, d.detail) == ("cancelled", "erased", None, None)
    assert {d.status for d in await rows_of(gw.gateway, deliveries, deliveries.c.id.in_(bob["deliveries"]))} == {
        "retrying"
    }


async def test_erasing_again_finds_nothing_left(gw: GatewayClient) -> None:
    await seed_person(gw.gateway, ALICE, count=2, status="pending")
    await _erase(gw, ALICE)
    again = await _erase(gw, ALICE)
    assert again["total"] == 0 and again["cancelled_deliveries"] == 0
    assert set(again["tables"].values()) == {0}


@pytest.mark.parametrize(
    "body",
    [
        {"participant": ""},
        {"participant": "   "},
        {},
        {"participant": 7},
        # Nothing a participant could be: no stored identifier holds a NUL or only control characters.
        {"participant": "\x00"},
        {"participant": "\x00\x01\u200b"},
        {"participant": "+256700\x00100200"},
    ],
)
async def test_an_erasure_without_a_participant_is_a_422(gw: GatewayClient, body: dict[str, Any]) -> None:
    await seed_person(gw.gateway, ALICE, count=1)
    r = await gw.post("/api/privacy/erasures", json=body)
    assert r.status_code == 422, r.text
    assert ALICE in await dump_text(gw.gateway)


@pytest.mark.parametrize("role", ["viewer", "operator"])
async def test_only_an_admin_may_erase(gw: GatewayClient, role: str) -> None:
    await seed_person(gw.gateway, ALICE, count=1)
    headers = await user_headers(gw.gateway, role)
    r = await gw.post("/api/privacy/erasures", json={"participant": ALICE}, headers=headers)
    assert r.status_code == 403
    assert ALICE in await dump_text(gw.gateway)


async def test_an_erasure_is_audited_without_naming_the_person(gw: GatewayClient) -> None:
    await seed_person(gw.gateway, ALICE, count=1)
    answer = await _erase(gw, ALICE)
    (event,) = [r for r in await audit_rows(gw.gateway) if r.action == "participant_erased"]
    assert event.actor.startswith("user:admin-") and event.status == 200
    assert event.detail["erasure"] == answer["id"] and event.detail["tables"]["messages"] == 2
    assert ALICE not in json.dumps(event.detail)
    (recorded,) = await rows_of(gw.gateway, privacy_requests)
    assert recorded.kind == "erasure" and recorded.participant is None and recorded.counts["tables"] == answer["tables"]


async def test_the_cli_erases_a_person(gw: GatewayClient, clean_stack, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from core.cli import main

    await seed_person(gw.gateway, ALICE, count=2)
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("SWITCHBOARD_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SWITCHBOARD_DATABASE__URL", clean_stack.database_url)
    monkeypatch.setenv("SWITCHBOARD_SERVER__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SWITCHBOARD_AUTH__SECRET_KEY", "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
    monkeypatch.setenv("SWITCHBOARD_QUEUE__BACKEND", "local")
    out = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out):
            return main(["privacy", "erase", "--participant", ALICE, "--yes"])

    import asyncio

    assert await asyncio.to_thread(run) == 0
    assert json.loads(out.getvalue())["tables"]["messages"] == 3
    assert ALICE not in await dump_text(gw.gateway)


async def test_retention_erases_old_content_and_keeps_counts(clean_stack: Any) -> None:
    # No queue, so no cron run races this test's: the job is run here, by hand.
    settings = clean_stack.settings(privacy={"retention": {"echo": 90}})
    async with gateway_client(settings, migrate=False, run_queue=False) as gw:
        await _retention_keeps_counts(gw)


async def _retention_keeps_counts(gw: GatewayClient) -> None:
    old = await seed_person(gw.gateway, ALICE, count=3, days_ago=100)
    recent = await seed_person(gw.gateway, BOB, count=2, days_ago=10)
    other_platform = await seed_person(gw.gateway, "+256700000003", count=1, days_ago=100, platform="sms")
    gateway: Gateway = gw.gateway
    # The dashboard as it was a week after the old messages came: the same before and after.
    then = datetime.now(UTC) - timedelta(days=97)
    before = await summary(gateway.db, "7d", now=then, use_rollup=False)
    changed = await _privacy_retention_job({"gateway": gateway})
    assert changed > 0
    after = await summary(gateway.db, "7d", now=then, use_rollup=False)
    assert before["messages"]["total"] >= 6
    for figure in ("messages", "created", "attempts", "deliveries", "destinations", "volume"):
        assert after[figure] == before[figure], figure
    for m in await rows_of(gateway, messages, messages.c.id.in_(old["messages"])):
        assert (m.text, m.sender, m.recipient, m.raw, m.extra) == (None, None, None, None, {"erased": "retention"})
    for m in await rows_of(gateway, messages, messages.c.id.in_(recent["messages"] + other_platform["messages"])):
        assert m.text is not None and m.extra != {"erased": "retention"}
    text = await dump_text(gateway)
    assert ALICE not in text and BOB in text
    assert len(await rows_of(gateway, deliveries)) == 4 + 3 + 2
    # A second run starts where the first stopped: nothing left to erase.
    assert await _privacy_retention_job({"gateway": gateway}) == 0


async def _finished_export(gw: GatewayClient, participant: str) -> dict[str, Any]:
    r = await gw.post("/api/privacy/exports", json={"participant": participant})
    assert r.status_code == 202, r.text
    export_id = r.json()["id"]

    async def done() -> bool:
        await run_jobs(gw.gateway, share=True)  # the worker with this app's plugins (the notes one too)
        return bool((await gw.get(f"/api/privacy/exports/{export_id}")).json()["status"] == "done")

    await wait_until(done, timeout=30, message="the export to be done")
    return (await gw.get(f"/api/privacy/exports/{export_id}")).json()  # type: ignore[no-any-return]


async def test_an_export_holds_the_persons_messages_and_plugin_data_and_nothing_of_others(gw: GatewayClient) -> None:
    await seed_person(gw.gateway, ALICE, count=2)
    await seed_person(gw.gateway, BOB, count=1)
    status = await _finished_export(gw, ALICE)
    found = {table: n for table, n in status["counts"].items() if n}
    assert found == {"messages": 3, "conversations": 1, "deliveries": 3, "notes": 1}
    link = status["download_url"]
    r = await gw.get(link, headers={"Authorization": ""})  # the signed link is the authentication
    assert r.status_code == 200
    document = r.json()
    assert document["participant"] == ALICE
    assert sorted(m["text"] for m in document["core"]["messages"]) == [f"secret {i} of {ALICE}" for i in range(3)]
    assert document["plugins"]["notes"] == [{"note": "note about alice"}]
    assert BOB not in r.text
    (row,) = [x for x in await rows_of(gw.gateway, privacy_requests) if x.kind == "export"]
    assert row.participant is None  # kept only while the export waited


async def test_with_a_data_key_the_export_file_is_sealed_at_rest_and_opened_for_its_download(
    app_client,  # type: ignore[no-untyped-def]
) -> None:
    from core.operations.subject_export import exports_dir
    from tests.privacy.support import KEY

    async with app_client(privacy={"key": KEY}) as gw:
        gw.headers.update(await user_headers(gw.gateway, "admin"))
        await seed_person(gw.gateway, ALICE, count=1)
        status = await _finished_export(gw, ALICE)
        at_rest = (exports_dir(gw.gateway) / f"{status['id']}.json").read_bytes()
        assert ALICE.encode() not in at_rest and b"secret 0 of" not in at_rest
        r = await gw.get(status["download_url"], headers={"Authorization": ""})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"] == f'attachment; filename="participant-export-{status["id"]}.json"'
    document = r.json()
    assert document["participant"] == ALICE
    assert [m["text"] for m in document["core"]["messages"]] == [f"secret 0 of {ALICE}", f"secret 1 of {ALICE}"]


async def test_an_altered_export_link_is_refused(gw: GatewayClient) -> None:
    await seed_person(gw.gateway, ALICE, count=1)
    link = (await _finished_export(gw, ALICE))["download_url"]
    assert (await gw.get(link.replace("signature=", "signature=0"))).status_code == 403
    assert (await gw.get(link.split("?")[0])).status_code == 403


@pytest.mark.parametrize("role", ["viewer", "operator"])
async def test_only_an_admin_may_export(gw: GatewayClient, role: str) -> None:
    headers = await user_headers(gw.gateway, role)
    assert (await gw.post("/api/privacy/exports", json={"participant": ALICE}, headers=headers)).status_code == 403
    assert (await gw.get(f"/api/privacy/exports/{uuid.uuid4()}", headers=headers)).status_code == 403


async def test_an_export_request_is_audited_and_a_bad_one_is_a_422(gw: GatewayClient) -> None:
    assert (await gw.post("/api/privacy/exports", json={"participant": " "})).status_code == 422
    r = await gw.post("/api/privacy/exports", json={"participant": ALICE})
    (event,) = [e for e in await audit_rows(gw.gateway) if e.action == "participant_export_requested"]
    assert event.detail == {"export": r.json()["id"]} and event.status == 202
    assert (await gw.get("/api/privacy/exports/not-an-id")).status_code == 404


class Files:
    """A plugin keeping files about people: two of one name, one whose name climbs out of its folder."""

    @hookimpl
    def switchboard_export_files(self, participant: str, message_ids: Sequence[uuid.UUID]) -> list[ExportFile]:
        if participant != ALICE:
            return []
        return [
            ExportFile("notes/../../../etc/passwd", lambda: b"not a way out"),
            ExportFile("notes/scan.txt", lambda: b"first scan"),
            ExportFile("notes/scan.txt", lambda: b"second scan"),
        ]


async def test_with_files_the_export_is_a_zip_whose_names_stay_in_their_folder(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(extra_plugins=[("notes", Notes()), ("files", Files())]) as gw:
        gw.headers.update(await user_headers(gw.gateway, "admin"))
        await seed_person(gw.gateway, ALICE, count=1)
        status = await _finished_export(gw, ALICE)
        assert status["counts"]["files"] == 3
        r = await gw.get(status["download_url"], headers={"Authorization": ""})
        bob = await _finished_export(gw, BOB)  # nothing kept as files: the JSON document, as before
        plain = await gw.get(bob["download_url"], headers={"Authorization": ""})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        assert archive.namelist() == [
            "export.json",
            "files/notes/etc/passwd",
            "files/notes/scan.txt",
            "files/notes/scan-2.txt",
        ]
        assert [archive.read(n) for n in archive.namelist()[1:]] == [b"not a way out", b"first scan", b"second scan"]
        assert json.loads(archive.read("export.json"))["plugins"]["notes"] == [{"note": "note about alice"}]
    assert plain.headers["content-type"] == "application/json" and plain.json()["participant"] == BOB


async def test_the_cli_writes_the_files_into_a_zip_and_says_when_json_leaves_them_out(
    app_client,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    import argparse

    from core.operations.privacy_cli import export

    async with app_client(extra_plugins=[("notes", Notes()), ("files", Files())]) as gw:
        await seed_person(gw.gateway, ALICE, count=1)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            zipped = tmp_path / "alice.zip"
            assert await export(gw.gateway, argparse.Namespace(participant=ALICE, output=str(zipped))) == 0
            plain = tmp_path / "alice.json"
            assert await export(gw.gateway, argparse.Namespace(participant=ALICE, output=str(plain))) == 0
    with zipfile.ZipFile(zipped) as archive:
        assert len(archive.namelist()) == 4 and archive.read("files/notes/scan-2.txt") == b"second scan"
    assert json.loads(plain.read_bytes())["participant"] == ALICE
    assert "3 files of theirs are not in the JSON" in err.getvalue()
    assert [json.loads(line)["counts"].get("files") for line in out.getvalue().splitlines()] == [3, None]


class OddNames:
    """A plugin whose file names hold what no file name should: a NUL (zipfile cuts a name there),
    a lone surrogate (UTF-8 cannot write it), a control character, 300 characters."""

    @hookimpl
    def switchboard_export_files(self, participant: str, message_ids: Sequence[uuid.UUID]) -> list[ExportFile]:
        names = ["odd/a\x00b.txt", "odd/a\ud800b.txt", "odd/tab\there.txt", "odd/" + "x" * 300]
        return [ExportFile(n, lambda n=n: n.encode("utf-8", "replace")) for n in names]


async def test_file_names_no_file_name_should_hold_are_made_safe_in_the_zip(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(extra_plugins=[("odd", OddNames())]) as gw:
        gw.headers.update(await user_headers(gw.gateway, "admin"))
        await seed_person(gw.gateway, ALICE, count=1)
        status = await _finished_export(gw, ALICE)
        assert status["status"] == "done" and status["counts"]["files"] == 4
        r = await gw.get(status["download_url"], headers={"Authorization": ""})
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        assert archive.namelist() == [
            "export.json",
            "files/odd/a_b.txt",
            "files/odd/a_b-2.txt",
            "files/odd/tab_here.txt",
            "files/odd/" + "x" * 200,
        ]
        assert archive.read("files/odd/a_b-2.txt") == "odd/a\ud800b.txt".encode("utf-8", "replace")


SCAN = 4 << 20  # bytes of each of BigFiles' files


class BigFiles:
    """A plugin keeping four large files about Alice (scans, a voice note)."""

    @hookimpl
    def switchboard_export_files(self, participant: str, message_ids: Sequence[uuid.UUID]) -> list[ExportFile]:
        if participant != ALICE:
            return []
        return [ExportFile(f"scans/{i}.bin", lambda i=i: bytes([i]) * SCAN) for i in range(4)]


async def test_a_large_export_is_sealed_a_chunk_at_a_time_and_never_whole_in_memory(
    app_client,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    # A person's media can be hundreds of MB: the archive is written and sealed as it is made,
    # one of their files in memory at a time, not built whole and then sealed whole (a copy of
    # everything twice over).
    import tracemalloc

    from core.operations import subject_export
    from core.privacy.keys import STREAM_MAGIC
    from tests.privacy.support import KEY

    async with app_client(privacy={"key": KEY}, extra_plugins=[("big", BigFiles())]) as gw:
        gw.headers.update(await user_headers(gw.gateway, "admin"))
        await seed_person(gw.gateway, ALICE, count=1)
        document, files = await subject_export.collect_with_files(gw.gateway, ALICE)
        target = tmp_path / "alice.zip"
        tracemalloc.start()
        try:
            size = subject_export._write_export(gw.gateway, target, document, files)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 4 * SCAN, f"{peak} bytes held at once"  # everything at once would be 8 * SCAN
        assert size > 4 * SCAN and target.read_bytes().startswith(STREAM_MAGIC)
        # Through the API: sealed at rest, streamed opened.
        status = await _finished_export(gw, ALICE)
        at_rest = subject_export.exports_dir(gw.gateway) / f"{status['id']}.zip"
        assert at_rest.read_bytes().startswith(STREAM_MAGIC) and status["size_bytes"] > 4 * SCAN  # in clear
        r = await gw.get(status["download_url"], headers={"Authorization": ""})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        assert [archive.read(f"files/scans/{i}.bin") == bytes([i]) * SCAN for i in range(4)] == [True] * 4
        assert json.loads(archive.read("export.json"))["participant"] == ALICE


def test_a_sealing_writer_opens_to_what_was_written_in_pieces_of_any_size() -> None:
    from core.privacy.keys import STREAM_CHUNK, KeyMissing, Keyring
    from tests.privacy.support import KEY

    keyring = Keyring(KEY)
    for total in (0, 1, STREAM_CHUNK - 1, STREAM_CHUNK, STREAM_CHUNK + 1, 2 * STREAM_CHUNK + 7):
        data = os.urandom(total)
        sealed = io.BytesIO()
        with keyring.sealing_writer(sealed) as writer:
            for start in range(0, total, 300_001):  # pieces that straddle the chunks' edges
                writer.write(data[start : start + 300_001])
            assert writer.tell() == total
        assert b"".join(keyring.open_stream(io.BytesIO(sealed.getvalue()))) == data
        unfinished = io.BytesIO()
        writer = keyring.sealing_writer(unfinished)
        writer.write(data)  # never closed: its last chunk is missing, so it does not open
        with pytest.raises(KeyMissing):
            b"".join(keyring.open_stream(io.BytesIO(unfinished.getvalue())))


async def test_an_export_sealed_whole_before_exports_were_sealed_in_chunks_still_downloads(
    app_client,  # type: ignore[no-untyped-def]
) -> None:
    # Exports are kept a day: one written by the previous version (sealed whole) must still open.
    from core.operations import subject_export
    from core.privacy.keys import FILE_MAGIC
    from tests.privacy.support import KEY

    async with app_client(privacy={"key": KEY}) as gw:
        gw.headers.update(await user_headers(gw.gateway, "admin"))
        await seed_person(gw.gateway, ALICE, count=1)
        status = await _finished_export(gw, ALICE)
        path = subject_export.exports_dir(gw.gateway) / f"{status['id']}.json"
        document = b'{"participant": "written by the previous version"}'
        path.write_bytes(gw.gateway.privacy.seal_bytes(document))
        assert path.read_bytes().startswith(FILE_MAGIC)
        r = await gw.get(status["download_url"], headers={"Authorization": ""})
    assert r.status_code == 200 and r.content == document
