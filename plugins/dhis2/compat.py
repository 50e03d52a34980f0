"""dhis2gw compatibility: HISP-Uganda/dhis2gw's API at ``[plugins.dhis2.compat] prefix``.

A dhis2gw client switches to Switchboard by changing its base URL. The routes answer in
dhis2gw's shapes (``{"error": "…"}``, its field names, its status codes) but run on
Switchboard's pipeline, mappings, users and API keys. docs/dhis2.md ("Moving from dhis2gw")
lists what differs. Off by default; mounted at the root through ``core.at_root``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core import NotFound, at_root, gateway_of, issue_user_key, requires, user_keys
from plugins.dhis2.compat_aggregate import AggregateEndpoints
from plugins.dhis2.compat_logs import LogEndpoints
from plugins.dhis2.compat_mappings import MappingCompatEndpoints, excel_template

if TYPE_CHECKING:
    from plugins.dhis2.context import DHIS2Context

TOKEN_NAME = "dhis2gw token"  # noqa: S105 - the name of the API keys, not a secret
TOKEN_SCOPES = ("dhis2:aggregate", "dhis2:mappings")
TOKEN_DAYS = 30


def compat_routes(context: DHIS2Context) -> list[BaseRoute]:
    """The dhis2gw routes (``at_root``), or none when ``[plugins.dhis2.compat]`` is off."""
    settings = context.settings.compat
    if not settings.enabled:
        return []
    p = settings.prefix
    aggregate = AggregateEndpoints(context)
    logs = LogEndpoints(context)
    mappings = MappingCompatEndpoints(context)
    routes: list[BaseRoute] = [
        *aggregate.routes(p),
        *logs.routes(p),
        *mappings.routes(p),
        Route(f"{p}/users/getToken", get_token, methods=["POST"]),
        Route(f"{p}/users/refreshToken", refresh_token, methods=["POST"]),
        # dhis2gw serves the template at the root, unauthenticated (it holds no data).
        Route("/mappings/export/excel-template", excel_template, methods=["GET"]),
    ]
    return [at_root(routes)]


def _user_id(request: Request) -> uuid.UUID:
    principal = request.state.principal
    owner = principal.id if principal.kind == "user" else principal.extra.get("created_by")
    if not owner:
        raise NotFound("User not found")
    return uuid.UUID(owner)


def _token_answer(message: str, token: str, expires: datetime, status: int) -> JSONResponse:
    body = {"message": message, "token": token, "expires": expires.isoformat().replace("+00:00", "Z")}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


async def _issue(request: Request) -> tuple[str, datetime]:

    expires = datetime.now(UTC) + timedelta(days=TOKEN_DAYS)
    key = await issue_user_key(gateway_of(request), _user_id(request), TOKEN_NAME, TOKEN_SCOPES, expires_at=expires)
    return key, expires


@requires("operator", scopes=list(TOKEN_SCOPES))
async def get_token(request: Request) -> Response:
    """dhis2gw's ``POST /users/getToken``: a new 30-day token (an API key); the caller's others stop."""
    try:
        key, expires = await _issue(request)
    except NotFound:
        return JSONResponse({"error": "User not found"}, status_code=404)
    return _token_answer("Token created successfully", key, expires, 201)


@requires("operator", scopes=list(TOKEN_SCOPES))
async def refresh_token(request: Request) -> Response:
    """dhis2gw's ``POST /users/refreshToken``: replace the caller's unexpired token with a new one."""

    try:
        user_id = _user_id(request)
    except NotFound:
        return JSONResponse({"error": "User not found"}, status_code=404)
    now = datetime.now(UTC)
    live = [k for k in await user_keys(gateway_of(request), user_id, TOKEN_NAME) if k.expires_at and k.expires_at > now]
    if not live:
        return JSONResponse({"error": "No active token found to refresh"}, status_code=404)
    try:
        key, expires = await _issue(request)
    except NotFound:
        return JSONResponse({"error": "User not found"}, status_code=404)
    return _token_answer("Token refreshed successfully", key, expires, 200)
