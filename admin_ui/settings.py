"""The admin UI's ``[plugins.admin]`` table."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AdminSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A folder of templates searched before the plugins' and the defaults (``default:x.html`` extends the original).
    templates_dir: str | None = None
    # How long a console session lasts without logging in again (the session also ends at logout).
    session_ttl: int = Field(default=8 * 3600, ge=60, le=30 * 24 * 3600)
    # How often the dashboard refreshes itself.
    refresh_seconds: int = Field(default=30, ge=5)
    # How long one computation of the dashboard's figures is shown to every viewer (0: compute each time).
    dashboard_cache_seconds: int = Field(default=10, ge=0, le=300)
    # Rows per page of the lists.
    page_size: int = Field(default=50, ge=5, le=500)
    # A list counts its rows up to this many and says "more than" this past it (a cheap bounded count).
    list_total_bound: int = Field(default=10_000, ge=10, le=1_000_000)
