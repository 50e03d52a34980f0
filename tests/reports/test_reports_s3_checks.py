"""S3 that explains itself (#25 item 11): a missing bucket is found by ``config check`` and
``/readyz``, ``create_bucket = true`` makes it, files carry their Content-Type, and no error a
user sees names a local path. moto's S3 server on loopback is the endpoint.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from core import cli
from core.testing import user_headers
from plugins.reports import service
from plugins.reports.models import reports
from tests.console.conftest import log_in
from tests.reports.report_steps import ask, finished, seed
from tests.support.auth import PASSWORD, make_user
from tests.support.processes import write_config

CREDENTIALS = {"access_key_id": "test-access-key", "secret_access_key": "test-secret-key"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_table(endpoint: str, bucket: str, **more: Any) -> dict[str, Any]:
    return {"bucket": bucket, "endpoint_url": endpoint, "region": "us-east-1", **CREDENTIALS, **more}


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["access_key_id"],
        aws_secret_access_key=CREDENTIALS["secret_access_key"],
    )


def bucket_names(endpoint: str) -> set[str]:
    return {b["Name"] for b in s3_client(endpoint).list_buckets()["Buckets"]}


def new_bucket() -> str:
    return f"reports-{uuid.uuid4().hex[:12]}"


def local_paths(client: Any) -> list[str]:
    data_dir = client.gateway.settings.server.data_dir
    return [str(Path(data_dir)), str(Path(data_dir).resolve()), tempfile.gettempdir(), "/tmp", ".part"]


async def test_a_missing_bucket_fails_the_report_saying_so_without_a_local_path(
    app_client: Any, s3_endpoint: str
) -> None:
    bucket = new_bucket()
    async with app_client(plugins={"reports": {"storage": "s3", "s3": s3_table(s3_endpoint, bucket)}}) as client:
        await seed(client.gateway)
        await make_user(client.gateway, "admin", "admin")
        admin = await user_headers(client.gateway, "admin")
        report = await finished(client, await ask(client, admin, "message_volume"), admin)
        csrf = await log_in(client, "admin", PASSWORD)
        page = (await client.get("/admin/reports/", headers={"X-CSRF-Token": csrf})).text
    assert report["status"] == "failed"
    error = report["error"]
    assert f"the bucket '{bucket}' does not exist" in error and "create_bucket = true" in error
    assert error in page.replace("&#39;", "'")  # the console shows the same words
    for path in local_paths(client):
        assert path not in error, error
        assert path not in page


async def test_readyz_checks_the_bucket(app_client: Any, s3_endpoint: str) -> None:
    bucket = new_bucket()
    async with app_client(plugins={"reports": {"storage": "s3", "s3": s3_table(s3_endpoint, bucket)}}) as client:
        r = await client.get("/readyz")
        assert r.status_code == 503
        component = r.json()["components"]["reports:s3"]
        assert component["status"] == "down" and "does not exist" in component["error"]
        await asyncio.to_thread(s3_client(s3_endpoint).create_bucket, Bucket=bucket)
        r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["components"]["reports:s3"]["status"] == "ok"


async def test_readyz_says_when_the_endpoint_cannot_be_reached(app_client: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    s3 = s3_table(closed, new_bucket())
    async with app_client(plugins={"reports": {"storage": "s3", "s3": s3}}) as client:
        r = await client.get("/readyz")
    assert r.status_code == 503
    assert "endpoint cannot be reached" in r.json()["components"]["reports:s3"]["error"]


async def test_readyz_has_no_s3_component_with_local_files(app_client: Any) -> None:
    async with app_client() as client:
        r = await client.get("/readyz")
    assert "reports:s3" not in r.json()["components"]


async def test_create_bucket_makes_the_bucket_at_start(app_client: Any, s3_endpoint: str) -> None:
    bucket = new_bucket()
    s3 = s3_table(s3_endpoint, bucket, create_bucket=True)
    async with app_client(plugins={"reports": {"storage": "s3", "s3": s3}}) as client:
        assert bucket in await asyncio.to_thread(bucket_names, s3_endpoint)
        admin = await user_headers(client.gateway, "admin")
        report = await finished(client, await ask(client, admin, "failures"), admin)
    assert report["status"] == "completed"


async def test_without_create_bucket_no_bucket_is_made(app_client: Any, s3_endpoint: str) -> None:
    bucket = new_bucket()
    async with app_client(plugins={"reports": {"storage": "s3", "s3": s3_table(s3_endpoint, bucket)}}):
        assert bucket not in await asyncio.to_thread(bucket_names, s3_endpoint)


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("csv", "text/csv; charset=utf-8"),
        ("json", "application/json"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ],
)
async def test_files_are_uploaded_with_their_content_type(
    app_client: Any, s3_endpoint: str, fmt: str, content_type: str
) -> None:
    bucket = new_bucket()
    s3 = s3_table(s3_endpoint, bucket, create_bucket=True)
    async with app_client(plugins={"reports": {"storage": "s3", "s3": s3}}) as client:
        admin = await user_headers(client.gateway, "admin")
        report = await finished(client, await ask(client, admin, "failures", fmt), admin)
        assert report["status"] == "completed"
        async with client.gateway.db.transaction() as conn:
            key = await conn.scalar(reports.select().with_only_columns(reports.c.storage_key))
        storage = service.storage_of(client.gateway)
        head = await asyncio.to_thread(s3_client(s3_endpoint).head_object, Bucket=bucket, Key=storage.object_key(key))  # type: ignore[union-attr]
    assert head["ContentType"] == content_type


def _config_check(tmp_path: Path, s3: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    config = write_config(
        tmp_path / "config.toml",
        {
            "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'check.db'}"},
            "server": {"data_dir": str(tmp_path / "data")},
            "plugins": {"reports": {"storage": "s3", "s3": s3}},
        },
    )
    status = cli.main(["config", "check", "--config", str(config)])
    return status, capsys.readouterr().err


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("SWITCHBOARD_")]:
        monkeypatch.delenv(key)


def test_config_check_fails_on_a_missing_bucket_and_passes_once_it_exists(
    tmp_path: Path, s3_endpoint: str, capsys: pytest.CaptureFixture[str], clean_environment: None
) -> None:
    bucket = new_bucket()
    status, err = _config_check(tmp_path, s3_table(s3_endpoint, bucket), capsys)
    assert status == 1
    assert f"error: check reports:s3: the S3 bucket is not usable: the bucket '{bucket}' does not exist" in err
    assert "configuration OK" not in err
    s3_client(s3_endpoint).create_bucket(Bucket=bucket)
    status, err = _config_check(tmp_path, s3_table(s3_endpoint, bucket), capsys)
    assert status == 0, err
    assert "check reports:s3: ok" in err and "configuration OK" in err
    # The thorough check wrote and removed its probe object: the bucket is as it was.
    assert s3_client(s3_endpoint).list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_config_check_says_when_the_endpoint_cannot_be_reached(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_environment: None
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    status, err = _config_check(tmp_path, s3_table(closed, new_bucket()), capsys)
    assert status == 1 and "the S3 endpoint cannot be reached: check [plugins.reports.s3] endpoint_url" in err


def test_a_file_error_is_told_without_its_path() -> None:
    err = OSError(28, "No space left on device", "/var/lib/switchboard/reports/tmp/abc.csv.part")
    assert service.user_error(err, [Path("/var/lib/switchboard")]) == "the report file: No space left on device"
    other = RuntimeError("cannot read /var/lib/switchboard/reports/tmp/abc.csv.part: locked")
    assert service.user_error(other, [Path("/var/lib/switchboard")]) == "cannot read <local file>: locked"
