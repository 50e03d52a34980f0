"""With a data key, a report file kept in the local directory is sealed at rest (a report may quote
personal data: the failures report's last errors, which the database keeps sealed), and opened
when it is downloaded or mailed; key rotation re-seals it."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from core.privacy.keys import STREAM_CHUNK, KeyMissing, Keyring, generate_key
from core.privacy.rotation import rotate_files
from core.storage.models import deliveries
from core.testing import user_headers
from plugins.reports import service
from tests.privacy.support import KEY, OLD_KEY
from tests.reports.report_steps import ask, download, finished, parse, seed

MARKER = "the far side said: +256700123456 is not a valid number"


async def test_a_report_file_is_sealed_at_rest_and_opened_for_its_download(app_client: Any) -> None:
    async with app_client(privacy={"key": KEY}) as client:
        await seed(client.gateway)
        async with client.gateway.db.transaction() as conn:
            await conn.execute(sa.update(deliveries).where(deliveries.c.status == "dead").values(last_error=MARKER))
        operator = await user_headers(client.gateway, "operator")
        report = await finished(client, await ask(client, operator, "failures"), operator)
        assert report["status"] == "completed", report
        storage = service.storage_of(client.gateway)
        at_rest = await asyncio.to_thread(storage.path(report_storage_key(client, report)).read_bytes)
        assert MARKER.encode() not in at_rest and b"+256700123456" not in at_rest
        content = await download(client, report)
    [row] = parse("csv", content)
    assert row["last_error"] == MARKER


def report_storage_key(client: Any, report: dict[str, Any]) -> str:
    directory = service.storage_of(client.gateway).path("")
    [path] = [p for p in Path(directory, report["id"]).iterdir() if p.is_file()]
    return f"{report['id']}/{path.name}"


@pytest.mark.parametrize("size", [0, 1, STREAM_CHUNK - 1, STREAM_CHUNK, 2 * STREAM_CHUNK + 7])
def test_a_file_sealed_in_chunks_opens_whole_and_refuses_a_cut_a_swap_and_a_change(size: int) -> None:
    keyring = Keyring(KEY)
    data = os.urandom(size)
    sealed = io.BytesIO()
    keyring.seal_stream(io.BytesIO(data), sealed)
    stored = sealed.getvalue()
    assert b"".join(keyring.open_stream(io.BytesIO(stored))) == data
    head, block = 10 + 8 + 16, STREAM_CHUNK + 16
    tampered = [stored[:-1] + bytes([stored[-1] ^ 1])]
    if size > STREAM_CHUNK:
        tampered.append(stored[: head + block])  # cut at a chunk's end
        tampered.append(
            stored[:head]
            + stored[head + block : head + 2 * block]
            + stored[head : head + block]
            + stored[head + 2 * block :]
        )
    for bad in tampered:
        with pytest.raises(KeyMissing):
            b"".join(keyring.open_stream(io.BytesIO(bad)))
    with pytest.raises(KeyMissing):  # another key
        b"".join(Keyring(generate_key()).open_stream(io.BytesIO(stored)))


def test_rotation_reseals_a_chunked_file_with_the_new_key(tmp_path: Path) -> None:
    data = os.urandom(STREAM_CHUNK + 100)
    old = Keyring(OLD_KEY)
    with (tmp_path / "report.csv").open("wb") as file:
        old.seal_stream(io.BytesIO(data), file)
    new = Keyring(KEY, [OLD_KEY])
    assert rotate_files(tmp_path, new, lambda line: None) == 1
    stored = (tmp_path / "report.csv").read_bytes()
    assert stored[10:18].decode() == new.current.id
    assert b"".join(Keyring(KEY).open_stream(io.BytesIO(stored))) == data  # the old key no longer needed


async def test_a_half_written_report_left_by_a_stopped_worker_is_removed(app_client: Any) -> None:
    # A report is written in clear while it is generated: a worker killed then leaves its part
    # file behind. The pick-up job that marks such a report failed removes the file too; a part
    # file still being written (touched within run_timeout) stays.
    async with app_client() as client:
        folder = service.temporary_directory(client.gateway)
        folder.mkdir(parents=True, exist_ok=True)
        left, writing = folder / "left-behind.csv.part", folder / "being-written.csv.part"
        left.write_text(MARKER)
        writing.write_text(MARKER)
        hours_ago = left.stat().st_mtime - 2 * 3600  # run_timeout is an hour by default
        os.utime(left, (hours_ago, hours_ago))
        await service.pick_up(client.gateway)
    assert not left.exists()
    assert writing.read_text() == MARKER


def test_an_xlsx_report_s_rows_wait_beside_its_part_file_not_in_the_system_temporary_directory(
    tmp_path: Path, monkeypatch: Any
) -> None:
    # openpyxl keeps a write-only sheet's rows in a temporary file until the book is saved: in
    # the system's temporary directory, a killed worker left them there in clear for good.
    import subprocess
    import sys
    import tempfile
    import time

    import openpyxl

    from plugins.reports.writers import XlsxWriter

    system = tmp_path / "system-tmp"
    system.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system))
    folder = tmp_path / "reports-tmp"
    folder.mkdir()

    # A worker killed while writing an XLSX report (no atexit, no cleanup).
    killed = (
        "import os, sys; from pathlib import Path; from plugins.reports.writers import XlsxWriter; "
        "w = XlsxWriter(Path(sys.argv[1]), ['destination', 'last_error'], 'failures'); "
        "w.write([['crm', sys.argv[2]]] * 5000); os._exit(9)"
    )
    env = {**os.environ, "TMPDIR": str(system)}
    ran = subprocess.run([sys.executable, "-c", killed, str(folder / "killed.xlsx.part"), MARKER], env=env, check=False)
    assert ran.returncode == 9
    assert list(system.iterdir()) == []
    [left] = folder.iterdir()
    assert left.name == "killed.xlsx.part.sheet.part" and MARKER in left.read_text()
    hours_ago = time.time() - 2 * 3600  # the pick-up job removes the sheet's rows with the report's part file
    os.utime(left, (hours_ago, hours_ago))
    assert service.remove_stale_parts(folder, 3600) == 1
    assert list(folder.iterdir()) == []

    done = XlsxWriter(folder / "done.xlsx.part", ["destination", "last_error"], "failures")
    done.write([["crm", MARKER]])
    done.close()
    assert [p.name for p in folder.iterdir()] == ["done.xlsx.part"] and list(system.iterdir()) == []
    book = openpyxl.load_workbook(io.BytesIO((folder / "done.xlsx.part").read_bytes()), read_only=True)
    assert list(book.active.values) == [("destination", "last_error"), ("crm", MARKER)]
