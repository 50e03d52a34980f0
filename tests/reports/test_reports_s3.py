"""Reports kept in an S3-compatible bucket: moto's S3 server on loopback, spoken to over HTTP by boto3."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from core.testing import user_headers
from plugins.reports import service
from tests.reports.report_steps import ask, finished, parse, seed

pytestmark = pytest.mark.stacks("sqlite")  # storage, not the database, is under test: one stack is enough
CREDENTIALS = {"access_key_id": "test-access-key", "secret_access_key": "test-secret-key"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _bucket(endpoint: str, name: str) -> dict[str, object]:
    s3 = {"bucket": name, "endpoint_url": endpoint, "region": "us-east-1", "part_size": 5 * 1024 * 1024, **CREDENTIALS}
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["access_key_id"],
        aws_secret_access_key=CREDENTIALS["secret_access_key"],
    )
    client.create_bucket(Bucket=name)
    return s3


async def test_a_report_is_uploaded_to_the_bucket_and_downloaded_through_a_presigned_url(  # type: ignore[no-untyped-def]
    app_client, s3_endpoint: str
) -> None:
    s3 = await asyncio.to_thread(_bucket, s3_endpoint, "reports-a")
    async with app_client(plugins={"reports": {"storage": "s3", "s3": s3}}) as client:
        await seed(client.gateway)
        admin = await user_headers(client.gateway, "admin")
        report = await finished(client, await ask(client, admin, "message_volume", "json"), admin)
        assert report["download_url"].startswith(s3_endpoint) and "X-Amz-Signature" in report["download_url"]
        async with httpx.AsyncClient() as far:
            r = await far.get(report["download_url"])
        assert r.status_code == 200
        assert {row["platform"] for row in parse("json", r.content)} == {"whatsapp", "helpline"}


async def test_a_large_report_is_uploaded_in_parts(app_client, s3_endpoint: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    s3 = await asyncio.to_thread(_bucket, s3_endpoint, "reports-b")
    from core import ReportType, hookimpl

    class Big(ReportType):
        name = "big"
        columns = ("n", "text")

        async def rows(self, gateway, params):  # type: ignore[no-untyped-def]
            for n in range(120_000):
                yield [n, "x" * 40]

    class Plugin:
        @hookimpl
        def switchboard_report_types(self) -> list[ReportType]:
            return [Big()]

    async with app_client(
        plugins={"reports": {"storage": "s3", "s3": s3}}, extra_plugins=[("big", Plugin())]
    ) as client:
        admin = await user_headers(client.gateway, "admin")
        r = await client.post("/plugins/reports/reports", json={"type": "big", "format": "csv"}, headers=admin)
        report = await finished(client, r.json()["id"], admin)
        assert report["status"] == "completed" and report["size_bytes"] > 5 * 1024 * 1024
        storage = service.storage_of(client.gateway)
        async with client.gateway.db.transaction() as conn:
            from plugins.reports.models import reports

            key = await conn.scalar(reports.select().with_only_columns(reports.c.storage_key))
        head = await asyncio.to_thread(
            storage.client.head_object,
            Bucket="reports-b",
            Key=storage.object_key(key),
            PartNumber=1,  # type: ignore[union-attr]
        )
        assert head["PartsCount"] == 2
        async with httpx.AsyncClient() as far:
            body = (await far.get(report["download_url"])).content
        assert body.count(b"\n") == 120_001


async def test_retention_deletes_the_object_from_the_bucket(app_client, s3_endpoint: str) -> None:  # type: ignore[no-untyped-def]
    s3 = await asyncio.to_thread(_bucket, s3_endpoint, "reports-c")
    async with app_client(plugins={"reports": {"storage": "s3", "s3": s3}}) as client:
        admin = await user_headers(client.gateway, "admin")
        await finished(client, await ask(client, admin, "failures"), admin)
        storage = service.storage_of(client.gateway)
        listed = await asyncio.to_thread(storage.client.list_objects_v2, Bucket="reports-c")  # type: ignore[union-attr]
        assert listed["KeyCount"] == 1
        from datetime import UTC, datetime, timedelta

        assert await service.purge(client.gateway, now=datetime.now(UTC) + timedelta(days=31)) == 1
        listed = await asyncio.to_thread(storage.client.list_objects_v2, Bucket="reports-c")  # type: ignore[union-attr]
        assert listed["KeyCount"] == 0
