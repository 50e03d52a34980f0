"""The JSON operations API under ``/api``."""

from __future__ import annotations

from starlette.routing import BaseRoute

from core.web.api.auth import auth_routes
from core.web.api.destinations import destination_routes
from core.web.api.jobs import job_routes
from core.web.api.metrics import metrics_routes
from core.web.api.privacy import privacy_routes
from core.web.api.records import record_routes


def api_routes() -> list[BaseRoute]:
    return [*auth_routes(), *record_routes(), *job_routes(), *metrics_routes(), *destination_routes(), *privacy_routes()]
