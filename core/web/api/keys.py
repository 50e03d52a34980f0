"""``/api/api-keys``: keys for systems and devices (admins only). A key is shown once."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core.auth.api_keys import create_key, get_key, key_view, list_keys, revoke_key, rotate_key
from core.auth.events import record_event
from core.auth.permissions import requires
from core.web.api import answers as A
from core.web.api.auth_schemas import KeyCreate, KeyQuery, KeyRotate
from core.web.api.params import parse_query
from core.web.openapi import describe
from core.web.requests import gateway_of, read_json

if TYPE_CHECKING:
    pass

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _creator(request: Request) -> uuid.UUID | None:
    principal = request.state.principal
    return uuid.UUID(principal.id) if principal.kind == "user" else None


@requires("users.manage")
@describe(query=KeyQuery, responses={200: A.KEYS})
async def list_endpoint(request: Request) -> Response:
    """List API keys (revoked ones with ``include_revoked=true``): prefix, scopes, last use, usage."""
    gateway = gateway_of(request)
    query = parse_query(request, KeyQuery)
    rows, next_cursor = await list_keys(
        gateway, include_revoked=query.include_revoked, limit=query.limit, cursor=query.cursor
    )
    return JSONResponse({"items": [key_view(gateway, r) for r in rows], "next": next_cursor})


@requires("users.manage")
@describe(body=KeyCreate, status=201, responses={201: A.NEW_KEY})
async def create_endpoint(request: Request) -> Response:
    """Create a key. The answer's ``key`` is the only time it is shown: store it now."""
    gateway = gateway_of(request)
    body = await read_json(request, KeyCreate)
    row, key = await create_key(
        gateway,
        body.name,
        body.scopes,
        platform=body.platform,
        expires_at=body.expires_at,
        created_by=_creator(request),
    )
    record_event(
        gateway,
        "api_key_created",
        request=request,
        status=201,
        key_prefix=row.prefix,
        name=row.name,
        scopes=list(row.scopes),
        platform=row.platform,
    )
    return JSONResponse(key_view(gateway, row) | {"key": key}, status_code=201, headers=NO_STORE)


@requires("users.manage")
@describe(responses={200: A.KEY})
async def get_endpoint(request: Request) -> Response:
    """One API key (never its secret)."""
    gateway = gateway_of(request)
    return JSONResponse(key_view(gateway, await get_key(gateway, request.path_params["key_id"])))


@requires("users.manage")
@describe(responses={200: A.KEY})
async def revoke_endpoint(request: Request) -> Response:
    """Revoke a key: it is refused from the next request on."""
    gateway = gateway_of(request)
    row = await revoke_key(gateway, request.path_params["key_id"])
    record_event(gateway, "api_key_revoked", request=request, status=200, key_prefix=row.prefix, name=row.name)
    return JSONResponse(key_view(gateway, row))


@requires("users.manage")
@describe(body=KeyRotate, status=201, responses={201: A.NEW_KEY})
async def rotate_endpoint(request: Request) -> Response:
    """Replace a key with a new one (same name, scopes, platform); the old one stops after the grace period."""
    gateway = gateway_of(request)
    body = await read_json(request, KeyRotate, optional=True)
    old, new, key = await rotate_key(
        gateway, request.path_params["key_id"], grace_seconds=body.grace_seconds, created_by=_creator(request)
    )
    record_event(
        gateway,
        "api_key_rotated",
        request=request,
        status=201,
        key_prefix=old.prefix,
        new_key_prefix=new.prefix,
        name=new.name,
        grace_seconds=body.grace_seconds,
    )
    return JSONResponse(
        key_view(gateway, new) | {"key": key, "replaces": str(old.id)}, status_code=201, headers=NO_STORE
    )


def key_routes() -> list[BaseRoute]:
    return [
        Route("/api/api-keys", list_endpoint, methods=["GET"]),
        Route("/api/api-keys", create_endpoint, methods=["POST"]),
        Route("/api/api-keys/{key_id}", get_endpoint, methods=["GET"]),
        Route("/api/api-keys/{key_id}", revoke_endpoint, methods=["DELETE"]),
        Route("/api/api-keys/{key_id}/rotate", rotate_endpoint, methods=["POST"]),
    ]
