"""Where report files are kept: a local directory, or an S3-compatible bucket for several machines.

Files are written to a temporary path under the local directory first and handed over
whole when complete: moved into place locally, or uploaded to S3 in parts (boto3's managed
transfer: multipart above ``part_size``, read from the file, never whole in memory). boto3 is
blocking, so each of its calls runs in a thread.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Protocol

from plugins.reports.settings import ReportsSettings, S3Settings


class ReportStorage(Protocol):
    async def save(self, key: str, path: Path) -> None:
        """Keep the finished file at ``path`` under ``key`` (the temporary file is consumed)."""

    async def delete(self, key: str) -> None:
        """Remove the file kept under ``key``; a missing one is not an error."""


class LocalStorage:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, key: str) -> Path:
        return self.directory / key

    async def save(self, key: str, path: Path) -> None:
        target = self.path(key)
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(os.replace, path, target)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._remove, self.path(key))

    def _remove(self, path: Path) -> None:
        # A report's file sits in a folder of its own (``<id>/<name>``): the folder goes with it, so
        # years of retention do not leave a directory per report ever made.
        path.unlink(missing_ok=True)
        folder = path.parent
        while folder != self.directory and self.directory in folder.parents:
            try:
                folder.rmdir()
            except OSError:  # not empty (another file), or already gone
                return
            folder = folder.parent

    async def read(self, key: str) -> bytes:
        """The whole file (for small files only: scheduled e-mails attach them)."""
        return await asyncio.to_thread(self.path(key).read_bytes)


class S3Storage:
    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # loaded only when S3 is configured
            from botocore.config import Config

            self._client = boto3.client(
                "s3",
                endpoint_url=self.settings.endpoint_url,
                region_name=self.settings.region,
                aws_access_key_id=self.settings.access_key_id,
                aws_secret_access_key=self.settings.secret_access_key,
                config=Config(signature_version="s3v4", retries={"max_attempts": 3}),
            )
        return self._client

    def object_key(self, key: str) -> str:
        return f"{self.settings.prefix}{key}"

    async def save(self, key: str, path: Path) -> None:
        from boto3.s3.transfer import TransferConfig

        size = self.settings.part_size
        transfer = TransferConfig(multipart_threshold=size, multipart_chunksize=size, use_threads=False)
        try:
            await asyncio.to_thread(
                self.client.upload_file, str(path), self.settings.bucket, self.object_key(key), Config=transfer
            )
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.settings.bucket, Key=self.object_key(key))

    async def read(self, key: str) -> bytes:
        """The whole object (for small files only: scheduled e-mails attach them)."""

        def get() -> bytes:
            found = self.client.get_object(Bucket=self.settings.bucket, Key=self.object_key(key))
            return bytes(found["Body"].read())

        return await asyncio.to_thread(get)

    async def presigned_url(self, key: str, ttl: int, filename: str) -> str:
        """A GET URL of the object valid for ``ttl`` seconds, downloading as ``filename``."""
        params = {
            "Bucket": self.settings.bucket,
            "Key": self.object_key(key),
            "ResponseContentDisposition": f'attachment; filename="{filename}"',
        }
        url: str = await asyncio.to_thread(
            self.client.generate_presigned_url, "get_object", Params=params, ExpiresIn=ttl
        )
        return url


def local_directory(settings: ReportsSettings, data_dir: str) -> Path:
    return Path(settings.directory) if settings.directory else Path(data_dir) / "reports"


def make_storage(settings: ReportsSettings, data_dir: str) -> LocalStorage | S3Storage:
    if settings.storage == "s3":
        assert settings.s3 is not None  # checked by the settings
        return S3Storage(settings.s3)
    return LocalStorage(local_directory(settings, data_dir))
