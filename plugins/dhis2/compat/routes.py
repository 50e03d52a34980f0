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

from core import Forbidden, NotFound, Principal, at_root, gateway_of, issue_user_key, requires, user_keys
from plugins.dhis2.compat.aggregate import AggregateEndpoints
from plugins.dhis2.compat.answers import error, go_time
from plugins.dhis2.compat.cors import with_cors
from plugins.dhis2.compat.logs import LogEndpoints
from plugins.dhis2.compat.mappings import MappingCompatEndpoints, excel_template
from plugins.dhis2.compat.users import user_routes

if TYPE_CHECKING:
    from plugins.dhis2.context import DHIS2Context

TOKEN_NAME = "dhis2gw token"  # noqa: S105 - the name of the API keys, not a secret
TOKEN_SCOPES = ("dhis2:aggregate", "dhis2:mappings")


def compat_routes(context: DHIS2Context) -> list[BaseRoute]:
    """The dhis2gw routes (``at_root``), or none when ``[plugins.dhis2.compat]`` is off."""
    settings = context.settings.compat
    if not settings.enabled:
        return []
    p = settings.prefix
    tokens = TokenEndpoints(settings.token_ttl_days)
    routes: list[Route] = [
        *AggregateEndpoints(context).routes(p),
        *LogEndpoints(context).routes(p),
        *MappingCompatEndpoints(context).routes(p),
        *user_routes(p),
        Route(f"{p}/users/getToken", tokens.get_token, methods=["POST"]),
        Route(f"{p}/users/refreshToken", tokens.refresh_token, methods=["POST"]),
        # dhis2gw serves the template at the root, unauthenticated (it holds no data).
        Route("/mappings/export/excel-template", excel_template, methods=["GET"]),
    ]
    return [at_root(with_cors(routes, settings.cors_origins))]


def _owner(principal: Principal) -> uuid.UUID | None:
    """The user a caller acts as: a signed-in user, or a key issued to one; ``None`` for a system's key."""
    owner = principal.id if principal.kind == "user" else principal.extra.get("owner")
    return uuid.UUID(owner) if owner else None


def _token_answer(message: str, token: str, expires: datetime | None, status: int) -> JSONResponse:
    body = {"message": message, "token": token, "expires": go_time(expires)}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


class TokenEndpoints:
    """dhis2gw's tokens, as API keys that act for the calling user (``core.issue_user_key``).

    A token never holds more than its caller: the scopes a calling key holds, no later expiry
    than the calling key's, and the calling user's role at each use; it stops with that user.
    """

    def __init__(self, ttl_days: int) -> None:
        self.ttl = timedelta(days=ttl_days)

    async def _issue(self, request: Request, owner: uuid.UUID) -> tuple[str, datetime | None]:
        gateway = gateway_of(request)
        expires = datetime.now(UTC) + self.ttl
        key = await issue_user_key(
            gateway, owner, TOKEN_NAME, TOKEN_SCOPES, expires_at=expires, caller=request.state.principal
        )
        [issued, *_] = await user_keys(gateway, owner, TOKEN_NAME)  # the expiry as capped by the caller
        return key, issued.expires_at

    async def _answer(self, request: Request, owner: uuid.UUID, message: str, status: int) -> Response:
        try:
            key, expires = await self._issue(request, owner)
        except NotFound:
            return error("User not found", 404)
        except Forbidden as err:
            return error(str(err), 403)
        return _token_answer(message, key, expires, status)

    @requires("dhis2.submit", scopes=list(TOKEN_SCOPES), basic=True)
    async def get_token(self, request: Request) -> Response:
        """dhis2gw's ``POST /users/getToken``: a new token for the caller (201); their others stop."""
        owner = _owner(request.state.principal)
        if owner is None:
            return error(NO_USER, 403)
        return await self._answer(request, owner, "Token created successfully", 201)

    @requires("dhis2.submit", scopes=list(TOKEN_SCOPES), basic=True)
    async def refresh_token(self, request: Request) -> Response:
        """dhis2gw's ``POST /users/refreshToken``: replace the caller's unexpired token with a new one."""
        owner = _owner(request.state.principal)
        if owner is None:
            return error(NO_USER, 403)
        now = datetime.now(UTC)
        live = [
            k for k in await user_keys(gateway_of(request), owner, TOKEN_NAME) if not k.expires_at or k.expires_at > now
        ]
        if not live:
            return error("No active token found to refresh", 404)
        return await self._answer(request, owner, "Token refreshed successfully", 200)


NO_USER = "a token belongs to a user: ask with the user's password or with a token of theirs"
