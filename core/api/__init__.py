"""The JSON operations API under ``/api``."""

from __future__ import annotations

from starlette.routing import BaseRoute

from core.api.records import record_routes
from core.auth.routes import auth_routes


def api_routes() -> list[BaseRoute]:
    return [*auth_routes(), *record_routes()]
