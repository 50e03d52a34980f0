"""``/api/auth/*``: logging in and out, refreshing, the caller's own account, self-signup.

``/api/users`` and ``/api/api-keys`` are in ``user_routes`` and ``key_routes``.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core.auth.events import record_event
from core.auth.permissions import Principal, invalid_credentials, open_during_password_change, requires
from core.auth.sessions import (
    check_login,
    check_password_of,
    end_session,
    end_user_sessions,
    refresh_session,
    start_session,
)
from core.auth.users import check_password, create_user, get_user, normalise_username, set_password, user_view
from core.errors import Conflict, HTTPError, NotFound, Unprocessable
from core.scopes import client_address
from core.web.api import answers as A
from core.web.api.auth_schemas import (
    LogoutRequest,
    PasswordChange,
    RefreshRequest,
    SignupRequest,
    TokenRequest,
)
from core.web.api.keys import key_routes
from core.web.api.users import user_routes
from core.web.openapi import describe
from core.web.requests import gateway_of, read_json

if TYPE_CHECKING:
    pass

# Tokens must not be kept by a browser's or a proxy's cache.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _principal(request: Request) -> Principal:
    return request.state.principal  # type: ignore[no-any-return]


@requires(public=True)
@describe(body=TokenRequest, responses={200: A.TOKENS})
async def token(request: Request) -> Response:
    """Log in: a username and password for an access token and a refresh token.

    Unknown user, wrong password and a locked account all get the same 401.
    """
    gateway = gateway_of(request)
    await gateway.auth.admit_login(client_address(request.scope))
    body = await read_json(request, TokenRequest)
    outcome = await check_login(gateway, body.username, body.password.get_secret_value())
    actor = f"user:{body.username.strip().lower()[:150]}"
    if outcome.failure is not None:
        status = 403 if outcome.failure == "not_active" else 401
        actor_type = "anonymous" if outcome.user is None else "user"
        record_event(
            gateway,
            "login_failed",
            request=request,
            actor=actor,
            actor_type=actor_type,
            status=status,
            reason=outcome.failure,
        )
        if outcome.locked_now:
            record_event(
                gateway,
                "lockout",
                request=request,
                actor=actor,
                actor_type="user",
                status=status,
                seconds=gateway.settings.auth.lockout_seconds,
            )
        if outcome.failure == "not_active":
            assert outcome.user is not None
            state = "is awaiting approval" if outcome.user.status == "pending" else "is not active"
            raise HTTPError(f"this account {state}", status_code=403)
        raise HTTPError("invalid username or password", status_code=401)
    assert outcome.user is not None
    session_id, pair = await start_session(
        gateway, outcome.user, client=client_address(request.scope), user_agent=request.headers.get("user-agent")
    )
    record_event(gateway, "login", request=request, actor=actor, actor_type="user", status=200, session=str(session_id))
    return JSONResponse(pair, headers=NO_STORE)


@requires(public=True)
@describe(body=RefreshRequest, responses={200: A.TOKENS})
async def refresh(request: Request) -> Response:
    """Exchange a refresh token for a new pair; the old refresh token stops working.

    Presenting a refresh token that was already exchanged ends its whole session.
    """
    gateway = gateway_of(request)
    body = await read_json(request, RefreshRequest)
    outcome = await refresh_session(
        gateway,
        body.refresh_token.get_secret_value(),
        client=client_address(request.scope),
        user_agent=request.headers.get("user-agent"),
    )
    actor = f"user:{outcome.username}" if outcome.username else "anonymous"
    actor_type = "user" if outcome.username else "anonymous"
    session = str(outcome.session_id) if outcome.session_id else None
    if outcome.tokens is None:
        # A reused token is a stolen one (or its owner's copy): the session is revoked.
        action = "refresh_reuse" if outcome.failure == "reused" else "refresh_failed"
        record_event(
            gateway,
            action,
            request=request,
            actor=actor,
            actor_type=actor_type,
            status=401,
            reason=outcome.failure,
            session=session,
        )
        raise invalid_credentials()
    record_event(gateway, "refresh", request=request, actor=actor, actor_type=actor_type, status=200, session=session)
    return JSONResponse(outcome.tokens, headers=NO_STORE)


@open_during_password_change
@requires()
@describe(body=LogoutRequest, status=204)
async def logout(request: Request) -> Response:
    """End this session (``{"everywhere": true}``: every session of the caller) at once."""
    gateway = gateway_of(request)
    body = await read_json(request, LogoutRequest, optional=True)
    principal = _principal(request)
    session_id = principal.extra.get("session_id")
    if body.everywhere:
        async with gateway.db.transaction() as conn:
            await end_user_sessions(conn, uuid.UUID(principal.id))
    elif session_id is not None:
        await end_session(gateway, session_id)
    record_event(
        gateway,
        "logout",
        request=request,
        status=204,
        session=str(session_id) if session_id else None,
        everywhere=body.everywhere or None,
    )
    return Response(status_code=204)


@open_during_password_change
@requires()
@describe(responses={200: A.USER})
async def me(request: Request) -> Response:
    """The signed-in user's own account."""
    user = await get_user(gateway_of(request), _principal(request).id)
    return JSONResponse(user_view(user))


@open_during_password_change
@requires()
@describe(body=PasswordChange, responses={200: A.USER})
async def change_password(request: Request) -> Response:
    """Change your own password (the current one is required). Your other sessions end."""
    gateway = gateway_of(request)
    principal = _principal(request)
    body = await read_json(request, PasswordChange)
    current, new = body.current_password.get_secret_value(), body.new_password.get_secret_value()
    user = await get_user(gateway, principal.id)
    check_password(gateway, new, user.username, field="new_password")
    if new == current:
        raise Unprocessable(
            "the password is not acceptable",
            errors=[{"field": "new_password", "message": "must differ from the current password"}],
        )
    outcome = await check_password_of(gateway, user, current)
    if outcome.failure is not None:
        record_event(gateway, "password_change_failed", request=request, status=422, reason=outcome.failure)
        if outcome.locked_now:
            record_event(gateway, "lockout", request=request, status=422, seconds=gateway.settings.auth.lockout_seconds)
        message = "too many failed attempts: try again later" if outcome.failure == "locked" else "is wrong"
        raise Unprocessable("the current password is wrong", errors=[{"field": "current_password", "message": message}])
    updated = await set_password(
        gateway, user.id, new, must_change=False, keep_session=principal.extra.get("session_id")
    )
    record_event(gateway, "password_changed", request=request, status=200)
    return JSONResponse(user_view(updated))


@requires(public=True)
@describe(body=SignupRequest, status=202, responses={202: A.SIGNED_UP})
async def signup(request: Request) -> Response:
    """Ask for an account (when ``[auth] allow_signup`` is on): it waits for an admin's approval.

    A username that is taken gets the same 202 as a new one (after the same password hash), so
    signup cannot be used to find out who has an account; the admin who approves sees only the
    new ones. The answer carries no id for the same reason.
    """
    gateway = gateway_of(request)
    if not gateway.settings.auth.allow_signup:
        raise NotFound("self-signup is not enabled on this gateway")
    await gateway.auth.admit_login(client_address(request.scope))
    body = await read_json(request, SignupRequest)
    username = normalise_username(body.username)
    action = "signup"
    try:
        await create_user(
            gateway,
            username,
            body.password.get_secret_value(),
            gateway.settings.auth.signup_role,
            full_name=body.full_name,
            email=body.email,
            status="pending",
        )
    except Conflict:
        action = "signup_taken"  # for the audit log only
    record_event(gateway, action, request=request, actor=f"user:{username}", actor_type="user", status=202)
    return JSONResponse({"username": username, "status": "pending"}, status_code=202)


def auth_routes() -> list[BaseRoute]:
    return [
        Route("/api/auth/token", token, methods=["POST"]),
        Route("/api/auth/refresh", refresh, methods=["POST"]),
        Route("/api/auth/logout", logout, methods=["POST"]),
        Route("/api/auth/me", me, methods=["GET"]),
        Route("/api/auth/password", change_password, methods=["POST"]),
        Route("/api/auth/signup", signup, methods=["POST"]),
        *user_routes(),
        *key_routes(),
    ]
