"""dhis2gw's user routes (``POST /user``, ``GET /users``, ``GET|PUT /users/{uid}``) on Switchboard's users.

Admins only (dhis2gw let any user call them). A user is answered in dhis2gw's ``User`` JSON:
``uid`` (Switchboard's user id), ``Username``, ``firstname``/``lastname`` (the full name split at
its first space), ``email``, ``is_active``, ``is_admin_user``, ``created``/``updated``; empty ones
left out as Go's ``omitempty`` does. Never a password or its hash; no integer ``ID`` and no
``telephone`` (Switchboard's users have neither). docs/dhis2.md lists the differences.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import (
    BadRequest,
    Conflict,
    NotFound,
    Unprocessable,
    add_user,
    change_user,
    find_users,
    gateway_of,
    parse_json,
    requires,
    user_account,
)
from plugins.dhis2.compat.answers import error, go_time

SCOPES = ["dhis2:users"]


def user_json(user: dict[str, Any]) -> dict[str, Any]:
    """One user as dhis2gw's ``User`` marshals (``omitempty`` fields left out when empty)."""
    first, _, last = (user.get("full_name") or "").partition(" ")
    item: dict[str, Any] = {"uid": user["id"], "Username": user["username"], "firstname": first, "lastname": last}
    if user.get("email"):
        item["email"] = user["email"]
    if user["active"]:
        item["is_active"] = True
    if user["role"] == "admin":
        item["is_admin_user"] = True
    item["created"] = go_time(datetime.fromisoformat(user["created_at"]))
    item["updated"] = go_time(datetime.fromisoformat(user["updated_at"]))
    return item


async def _object(request: Request) -> dict[str, Any] | None:
    """The body as a JSON object with lower-cased keys (Go matches field names case-insensitively)."""
    try:
        body = parse_json(await request.body())
    except BadRequest:  # malformed, too deep, a lone surrogate
        return None
    return {str(k).lower(): v for k, v in body.items()} if isinstance(body, dict) else None


def _text(body: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = body.get(name)
        if value is not None:
            return value if isinstance(value, str) else None
    return None


def _full_name(body: dict[str, Any], current: str | None = None) -> str | None:
    """Switchboard's one full name from dhis2gw's first and last (a field not sent keeps its part)."""
    first, _, last = (current or "").partition(" ")
    parts = [
        (_text(body, "firstname") or "") if "firstname" in body else first,
        (_text(body, "lastname") or "") if "lastname" in body else last,
    ]
    return " ".join(p.strip() for p in parts if p.strip()) or None


def _problems(err: Unprocessable) -> list[str]:
    return [f"{e.get('field', '')}: {e.get('message', '')}" for e in (err.errors or [])] or [str(err)]


@requires("users.manage", scopes=SCOPES, basic=True)
async def create_user(request: Request) -> Response:
    """dhis2gw's ``POST /user``: 201 ``{"message", "uid"}``; an admin when ``isAdminUser``, else an operator."""
    body = await _object(request)
    username = _text(body or {}, "username")
    password = _text(body or {}, "password")
    active = (body or {}).get("isactive", True)  # dhis2gw never checked it: absent stays able to log in
    if body is None or not username or not password or not isinstance(active, bool):
        return error("Invalid input", 400)
    try:
        user = await add_user(
            gateway_of(request),
            username,
            password,
            "admin" if body.get("isadminuser") is True else "operator",
            full_name=_full_name(body),
            email=_text(body, "email") or None,
            active=active,
        )
    except Unprocessable as err:
        return error("Invalid input", 400, detail=_problems(err))
    except Conflict as err:
        return error("Failed to create user", 409, detail=str(err))
    return JSONResponse({"message": "User created successfully!", "uid": user["id"]}, status_code=201)


def _int(value: str | None, default: int) -> int:
    """Go's ``strconv.Atoi`` as dhis2gw used it: a bad number is 0."""
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        return 0


def _bool(value: str | None) -> bool | None:
    """Go's ``strconv.ParseBool``: 1/t/T/TRUE/true/True and their false twins; anything else: no filter."""
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


@requires("users.manage", scopes=SCOPES, basic=True)
async def list_users(request: Request) -> Response:
    """dhis2gw's ``GET /users``: filters ``uid``, ``username``, ``email``, ``is_active``, ``is_admin``; pages."""
    q = request.query_params
    page = _int(q.get("page"), 1)
    size = _int(q.get("page_size"), 20)
    size = size if size > 0 else 20  # dhis2gw's query used 20 for 0 or less
    admin = _bool(q.get("is_admin"))
    users, total = await find_users(
        gateway_of(request),
        user_id=q.get("uid") or None,
        username=q.get("username") or None,
        email=q.get("email") or None,
        active=_bool(q.get("is_active")),
        roles=None if admin is None else ("admin",) if admin else ("operator", "viewer"),
        offset=(max(page, 1) - 1) * size,  # dhis2gw's query read page 1 for 0 or less
        limit=size,
    )
    return JSONResponse(
        {
            # Go marshals an empty result as null, as dhis2gw answers.
            "items": [user_json(u) for u in users] or None,
            "total": total,
            "page": page,  # echoed as asked (dhis2gw: page=0 answers page 0 with the first page)
            "total_pages": -(-total // size),
            "page_size": size,
        }
    )


@requires("users.manage", scopes=SCOPES, basic=True)
async def get_user(request: Request) -> Response:
    """dhis2gw's ``GET /users/{uid}``: one user, 404 ``User not found``."""
    try:
        user = await user_account(gateway_of(request), request.path_params["uid"])
    except NotFound:
        return error("User not found", 404)
    return JSONResponse(user_json(user))


@requires("users.manage", scopes=SCOPES, basic=True)
async def update_user(request: Request) -> Response:
    """dhis2gw's ``PUT /users/{uid}``: first and last name and e-mail (the fields sent); the username stays."""
    body = await _object(request)
    if body is None:
        return error("Invalid input", 400)
    gateway = gateway_of(request)
    try:
        user = await user_account(gateway, request.path_params["uid"])
    except NotFound:
        return error("User not found", 404)
    username = _text(body, "username")
    if username and username.strip().lower() != user["username"]:
        return error("Invalid input", 400, detail="a username cannot be changed")
    changes: dict[str, Any] = {}
    if "firstname" in body or "lastname" in body:
        changes["full_name"] = _full_name(body, user.get("full_name"))
    if "email" in body:
        changes["email"] = _text(body, "email") or None
    try:
        await change_user(gateway, user["id"], **changes)
    except Unprocessable as err:
        return error("Invalid input", 400, detail=_problems(err))
    return JSONResponse({"message": "User updated successfully"})


def user_routes(prefix: str) -> list[Route]:
    return [
        Route(f"{prefix}/user", create_user, methods=["POST"]),
        Route(f"{prefix}/users", list_users, methods=["GET"]),
        Route(f"{prefix}/users/{{uid}}", get_user, methods=["GET"]),
        Route(f"{prefix}/users/{{uid}}", update_user, methods=["PUT"]),
    ]
