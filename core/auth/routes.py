"""``/api/auth/*``, ``/api/users``, ``/api/api-keys``."""

from __future__ import annotations

from starlette.routing import BaseRoute


def auth_routes() -> list[BaseRoute]:
    return []
