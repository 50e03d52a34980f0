"""Where report files are kept: a local directory, or an S3-compatible bucket for several machines.

Files are written to a temporary path under the local directory first and handed over
whole when complete: moved into place locally, or uploaded to S3 in parts (boto3's managed
transfer: multipart above ``part_size``, read from the file, never whole in memory), with the
format's Content-Type. boto3 is blocking, so each of its calls runs in a thread.

A bucket that is missing, out of reach or refusing the keys is a ``StorageError`` saying so
and what to do, in words a user may read: never boto3's own message, which names the local
temporary file. ``S3Storage.check`` is what ``/readyz`` and ``switchboard config check`` ask
(``switchboard_checks``); ``create_bucket = true`` makes the bucket at start.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from core import CheckFailed, Privacy
from plugins.reports.settings import ReportsSettings, S3Settings

# Written and deleted by a thorough check (``switchboard config check``): the keys may write.
WRITE_CHECK_KEY = ".switchboard-write-check"


class StorageError(Exception):
    """The storage cannot keep or give back a file; the message says why for a user, with no local path."""


class ReportStorage(Protocol):
    async def save(self, key: str, path: Path, content_type: str) -> None:
        """Keep the finished file at ``path`` under ``key`` (the temporary file is consumed)."""

    async def delete(self, key: str) -> None:
        """Remove the file kept under ``key``; a missing one is not an error."""


class LocalStorage:
    """Files in a local directory: sealed in chunks with the data key when one is set
    (``[privacy] key``: a report may quote personal data, as the failures report's last errors
    do), opened as they are read."""

    def __init__(self, directory: Path, privacy: Privacy | None = None) -> None:
        self.directory = directory
        self.privacy = privacy

    @property
    def sealed(self) -> bool:
        return self.privacy is not None and self.privacy.enabled

    def path(self, key: str) -> Path:
        return self.directory / key

    async def save(self, key: str, path: Path, content_type: str) -> None:
        target = self.path(key)
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        if self.privacy is not None and self.sealed:
            await asyncio.to_thread(self.privacy.seal_file, path, target)
            await asyncio.to_thread(path.unlink, missing_ok=True)
        else:
            await asyncio.to_thread(os.replace, path, target)

    def chunks(self, key: str) -> Iterator[bytes]:
        """The file's clear bytes, a chunk at a time (blocking: iterate it in a thread)."""
        path = self.path(key)
        if self.privacy is None:
            with path.open("rb") as file:
                while chunk := file.read(1 << 20):
                    yield chunk
            return
        yield from self.privacy.open_file(path)

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
        """The whole file, opened (for small files only: scheduled e-mails attach them)."""
        return await asyncio.to_thread(lambda: b"".join(self.chunks(key)))


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

    async def save(self, key: str, path: Path, content_type: str) -> None:
        from boto3.s3.transfer import TransferConfig

        size = self.settings.part_size
        transfer = TransferConfig(multipart_threshold=size, multipart_chunksize=size, use_threads=False)
        try:
            await asyncio.to_thread(
                self.client.upload_file,
                str(path),
                self.settings.bucket,
                self.object_key(key),
                ExtraArgs={"ContentType": content_type},
                Config=transfer,
            )
        except Exception as err:
            raise self.explained(err, "the report could not be uploaded") from err
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.settings.bucket, Key=self.object_key(key))

    async def check(self, thorough: bool) -> None:
        """The bucket answers and exists (``thorough``: the keys may also write to it); ``CheckFailed`` if not."""
        try:
            await asyncio.to_thread(self.client.head_bucket, Bucket=self.settings.bucket)
            if thorough:
                key = self.object_key(WRITE_CHECK_KEY)
                await asyncio.to_thread(self.client.put_object, Bucket=self.settings.bucket, Key=key, Body=b"")
                await asyncio.to_thread(self.client.delete_object, Bucket=self.settings.bucket, Key=key)
        except Exception as err:
            raise CheckFailed(str(self.explained(err, "the S3 bucket is not usable"))) from err

    async def ensure_bucket(self) -> bool:
        """Create the bucket unless it exists (``create_bucket = true``); whether it was created."""
        from botocore.exceptions import ClientError

        def create() -> bool:
            try:
                self.client.head_bucket(Bucket=self.settings.bucket)
                return False
            except ClientError as err:
                if _code(err) not in _MISSING_BUCKET:
                    raise
            # us-east-1 is S3's default region and refuses to be named as a location.
            where = {} if self.settings.region == "us-east-1" else {"LocationConstraint": self.settings.region}
            try:
                self.client.create_bucket(
                    Bucket=self.settings.bucket, **({"CreateBucketConfiguration": where} if where else {})
                )
            except ClientError as err:
                if _code(err) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
                return False
            return True

        try:
            return await asyncio.to_thread(create)
        except Exception as err:
            raise self.explained(err, "the S3 bucket could not be created") from err

    def explained(self, err: BaseException, what: str) -> StorageError:
        """``err`` from boto3 as a ``StorageError`` a user may read: the cause and what to do, no local path."""
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

        bucket = f"bucket {self.settings.bucket!r}"
        cause = err.__cause__ or err.__context__ if isinstance(err, S3UploadFailedError) else err
        code = _code(cause) if isinstance(cause, ClientError) else None
        if code is None and isinstance(err, S3UploadFailedError):
            # boto3 keeps only the text of the error: "Failed to upload /tmp/… to b/k: An error occurred (Code) …".
            found = re.search(r"An error occurred \((\w+)\)", str(err))
            code = found.group(1) if found else None
        if code in _MISSING_BUCKET:
            reason = f"the {bucket} does not exist: create it, or set create_bucket = true in [plugins.reports.s3]"
        elif code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"):
            reason = f"access to the {bucket} was refused ({code}): check the keys and their permissions"
        elif code is not None:
            reason = f"S3 answered {code} for the {bucket}"
        elif isinstance(cause, EndpointConnectionError):
            reason = "the S3 endpoint cannot be reached: check [plugins.reports.s3] endpoint_url and the network"
        elif isinstance(cause, NoCredentialsError):
            reason = "no S3 keys were found: set access_key_id and secret_access_key in [plugins.reports.s3]"
        elif isinstance(cause, BotoCoreError | OSError):
            reason = f"S3 could not be reached ({type(cause).__name__})"
        else:
            reason = f"S3 failed ({type(err).__name__})"
        return StorageError(f"{what}: {reason}")

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


# What S3 (and its look-alikes) answer for a bucket that is not there; HEAD answers a bare 404.
_MISSING_BUCKET = ("NoSuchBucket", "404", "NotFound")


def _code(err: Any) -> str | None:
    code = getattr(err, "response", {}).get("Error", {}).get("Code")
    return str(code) if code is not None else None


def local_directory(settings: ReportsSettings, data_dir: str) -> Path:
    return Path(settings.directory) if settings.directory else Path(data_dir) / "reports"


def make_storage(settings: ReportsSettings, data_dir: str, privacy: Privacy | None = None) -> LocalStorage | S3Storage:
    if settings.storage == "s3":
        assert settings.s3 is not None  # checked by the settings
        return S3Storage(settings.s3)
    return LocalStorage(local_directory(settings, data_dir), privacy)
