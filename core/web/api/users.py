"""``/api/users`` and ``/api/roles``: users and roles (``users.manage``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core.auth.events import record_decision, record_event, record_role_defined, record_user_changes
from core.auth.permissions import requires
from core.auth.stored_roles import define_role, delete_role, role_view, stored_roles
from core.auth.users import (
    check_password,
    create_user,
    get_user,
    list_users,
    set_password,
    unlock,
    update_user,
    user_view,
)
from core.errors import Conflict
from core.web.api import answers as A
from core.web.api.auth_schemas import ApproveRequest, RoleDefinition, UserCreate, UserQuery, UserUpdate
from core.web.api.params import parse_query
from core.web.openapi import describe
from core.web.requests import gateway_of, read_json

if TYPE_CHECKING:
    from core.gateway import Gateway


@requires("users.manage")
@describe(query=UserQuery, responses={200: A.USERS})
async def list_endpoint(request: Request) -> Response:
    """List users, oldest first: filter by role, status, active or a search of name and email."""
    query = parse_query(request, UserQuery)
    rows, next_cursor = await list_users(
        gateway_of(request),
        role=query.role,
        status=query.status,
        active=query.active,
        search=query.search,
        limit=query.limit,
        cursor=query.cursor,
    )
    return JSONResponse({"items": [user_view(r) for r in rows], "next": next_cursor})


@requires("users.manage")
@describe(body=UserCreate, status=201, responses={201: A.USER})
async def create_endpoint(request: Request) -> Response:
    """Create a user (by default they must change the password at first login)."""
    gateway = gateway_of(request)
    body = await read_json(request, UserCreate)
    user = await create_user(
        gateway,
        body.username,
        body.password.get_secret_value(),
        body.role,
        full_name=body.full_name,
        email=body.email,
        must_change_password=body.must_change_password,
    )
    record_event(gateway, "user_created", request=request, status=201, user=user.username, role=user.role)
    return JSONResponse(user_view(user), status_code=201)


@requires("users.manage")
@describe(responses={200: A.USER})
async def get_endpoint(request: Request) -> Response:
    """One user."""
    return JSONResponse(user_view(await get_user(gateway_of(request), request.path_params["user_id"])))


@requires("users.manage")
@describe(body=UserUpdate, responses={200: A.USER})
async def update_endpoint(request: Request) -> Response:
    """Change a user's role, name, email or active state; reset their password; lift a lockout."""
    gateway = gateway_of(request)
    body = await read_json(request, UserUpdate)
    user = await get_user(gateway, request.path_params["user_id"])
    if body.password is not None:
        check_password(gateway, body.password.get_secret_value(), user.username)  # before changing anything
    given = body.model_fields_set
    changes: dict[str, Any] = {k: getattr(body, k) for k in ("full_name", "email") if k in given}
    if body.role is not None:
        changes["role"] = body.role
    if body.active is not None:
        changes["status"] = "active" if body.active else "inactive"
    if body.must_change_password is not None and body.password is None:
        changes["must_change_password"] = body.must_change_password
    before, after = await update_user(gateway, user.id, **changes)
    _record_changes(gateway, request, before, after)
    if body.password is not None:
        must_change = body.must_change_password if body.must_change_password is not None else True
        after = await set_password(gateway, user.id, body.password.get_secret_value(), must_change=must_change)
        record_event(gateway, "password_reset", request=request, status=200, user=user.username)
    if body.unlock:
        after = await unlock(gateway, user.id)
        record_event(gateway, "unlocked", request=request, status=200, user=user.username)
    return JSONResponse(user_view(after))


def _record_changes(gateway: Gateway, request: Request, before: Any, after: Any) -> None:
    record_user_changes(gateway, before, after, request=request)


@requires("users.manage")
@describe(responses={200: A.USER})
async def deactivate_endpoint(request: Request) -> Response:
    """Deactivate a user: their tokens stop working at once and their sessions end."""
    gateway = gateway_of(request)
    before, after = await update_user(gateway, request.path_params["user_id"], status="inactive")
    _record_changes(gateway, request, before, after)
    return JSONResponse(user_view(after))


async def _decide(request: Request, status: str, role: str | None = None) -> Response:
    gateway = gateway_of(request)
    user = await get_user(gateway, request.path_params["user_id"])
    if user.status != "pending":
        raise Conflict(f"this user is not awaiting approval (status: {user.status})")
    changes: dict[str, Any] = {"status": status} | ({"role": role} if role else {})
    before, after = await update_user(gateway, user.id, **changes)
    record_decision(gateway, before, after, request=request)
    return JSONResponse(user_view(after))


@requires("users.manage")
@describe(body=ApproveRequest, responses={200: A.USER})
async def approve_endpoint(request: Request) -> Response:
    """Approve a pending self-signup, optionally with another role."""
    body = await read_json(request, ApproveRequest, optional=True)
    return await _decide(request, "active", body.role)


@requires("users.manage")
@describe(responses={200: A.USER})
async def reject_endpoint(request: Request) -> Response:
    """Reject a pending self-signup."""
    return await _decide(request, "rejected")


@requires("users.manage")
@describe(responses={200: A.ROLES})
async def roles_endpoint(request: Request) -> Response:
    """Every permission, and the roles made of them: built in, from ``[auth.roles]``, defined here."""
    gateway = gateway_of(request)
    return JSONResponse(gateway.roles.view(await stored_roles(gateway)))


@requires("users.manage")
@describe(body=RoleDefinition, responses={200: A.ROLE})
async def define_role_endpoint(request: Request) -> Response:
    """Define a role made of permissions, or replace those of one defined here (not a built-in or configured one)."""
    gateway = gateway_of(request)
    body = await read_json(request, RoleDefinition)
    name = request.path_params["name"]
    before, after = await define_role(gateway, name, body.permissions, body.description)
    record_role_defined(gateway, before, after, request=request, status=200)
    return JSONResponse(role_view(gateway, after))


@requires("users.manage")
@describe(status=204)
async def delete_role_endpoint(request: Request) -> Response:
    """Remove a role defined here; 409 while a user has it."""
    gateway = gateway_of(request)
    role = await delete_role(gateway, request.path_params["name"])
    record_event(gateway, "role_deleted", request=request, status=204, role=role.name)
    return Response(status_code=204)


def user_routes() -> list[BaseRoute]:
    return [
        Route("/api/roles", roles_endpoint, methods=["GET"]),
        Route("/api/roles/{name}", define_role_endpoint, methods=["PUT"]),
        Route("/api/roles/{name}", delete_role_endpoint, methods=["DELETE"]),
        Route("/api/users", list_endpoint, methods=["GET"]),
        Route("/api/users", create_endpoint, methods=["POST"]),
        Route("/api/users/{user_id}", get_endpoint, methods=["GET"]),
        Route("/api/users/{user_id}", update_endpoint, methods=["PUT"]),
        Route("/api/users/{user_id}", deactivate_endpoint, methods=["DELETE"]),
        Route("/api/users/{user_id}/approve", approve_endpoint, methods=["POST"]),
        Route("/api/users/{user_id}/reject", reject_endpoint, methods=["POST"]),
    ]
