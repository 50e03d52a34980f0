"""``[plugins.reports]``: where files are kept, how long links and reports live, the largest period."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plugins.reports.schedule_def import Schedule


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid")


class S3Settings(_Table):
    """``[plugins.reports.s3]``: an S3-compatible bucket (AWS, MinIO, Ceph…); keys from the environment."""

    bucket: str = Field(min_length=3, max_length=63)
    endpoint_url: str | None = None  # None: AWS itself
    region: str = "us-east-1"
    access_key_id: str | None = None  # None: boto3's own lookup (environment, instance role)
    secret_access_key: str | None = None
    prefix: str = "reports/"
    # Create the bucket at start when it does not exist (the keys need s3:CreateBucket).
    create_bucket: bool = False
    # Files larger than this are uploaded in parts of this size (S3's minimum part is 5 MiB).
    part_size: int = Field(default=8 * 1024 * 1024, ge=5 * 1024 * 1024)


class ReportsSettings(_Table):
    """The plugin's settings; every key has a default."""

    storage: Literal["local", "s3"] = "local"
    # Local files: this directory (default: <data_dir>/reports). Temporary files are written here too.
    directory: str | None = None
    s3: S3Settings | None = None
    # Seconds a download link stays valid.
    link_ttl: int = Field(default=3600, ge=60, le=7 * 86400)
    # Reports (rows and files) are deleted this many days after they were asked for.
    retention_days: int = Field(default=30, ge=1)
    # The longest period a report may cover.
    max_days: int = Field(default=366, ge=1)
    # A report still pending after this many seconds (its enqueue lost) is picked up by a cron job.
    pickup_after: int = Field(default=60, ge=1)
    # A report running longer than this (its worker died) is marked failed.
    run_timeout: int = Field(default=3600, ge=60)
    # Base of download links when there is no request to take it from (scheduled e-mails).
    public_url: str | None = None
    # Scheduled reports (read-only; admins add more through the API). See docs/reports.md.
    schedules: list[Schedule] = Field(default_factory=list)
    # A scheduled report's file is attached to its e-mail up to this size; beyond, its link is sent.
    attach_max_bytes: int = Field(default=5 * 1024 * 1024, ge=0, le=25 * 1024 * 1024)
    # ...and put inline (base64) in the message submitted to its destination up to this size.
    inline_max_bytes: int = Field(default=64 * 1024, ge=0, le=5 * 1024 * 1024)

    @model_validator(mode="after")
    def _s3_has_a_bucket(self) -> ReportsSettings:
        if self.storage == "s3" and self.s3 is None:
            raise ValueError('storage = "s3" needs a [plugins.reports.s3] table with at least bucket')
        names = [s.name for s in self.schedules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"two schedules are named {twice[0]!r}")
        return self
