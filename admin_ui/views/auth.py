"""Logging in and out of the console, and the forced password change.

The same checks as ``POST /api/auth/token``: the login rate limit, lockout, one answer to
every bad credential, and the same audit events.
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin_ui.console import console_of
from admin_ui.sessions import (
    LOGIN_CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    issue_session_cookie,
    new_csrf_token,
    set_cookie,
)
from admin_ui.views.common import caller, text_field
from core.auth.events import record_event
from core.auth.permissions import open_during_password_change, requires
from core.auth.sessions import check_login, check_password_of, end_session, start_session
from core.auth.users import check_password, get_user, set_password
from core.errors import HTTPError
from core.scopes import client_address


def _safe_next(value: str | None) -> str:
    """Only a path of the console: never another site (an open redirect)."""
    if value and value.startswith(PREFIX) and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX + "/"


def _login_page(request: Request, *, error: str | None = None, status_code: int = 200, username: str = "") -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_csrf_token()
    request.state.admin_csrf = token
    response = console_of(request).render(
        request,
        "login.html",
        {"error": error, "next": _safe_next(request.query_params.get("next")), "username": username},
        status_code=status_code,
    )
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token)
    return response


@requires(public=True)
async def login(request: Request) -> Response:
    """The login form; its POST starts a session and sets the console's cookie."""
    if request.method == "GET":
        return _login_page(request)
    console = console_of(request)
    gateway = console.gateway
    form = await request.form()
    username, password = text_field(form, "username"), str(form.get("password") or "")
    try:
        await gateway.auth.admit_login(client_address(request.scope))
    except HTTPError as exc:
        return _login_page(request, error=str(exc), status_code=429, username=username)
    outcome = await check_login(gateway, username, password)
    actor = f"user:{username.lower()[:150]}"
    if outcome.failure is not None:
        status = 403 if outcome.failure == "not_active" else 401
        record_event(
            gateway,
            "login_failed",
            request=request,
            actor=actor,
            actor_type="anonymous" if outcome.user is None else "user",
            status=status,
            reason=outcome.failure,
        )
        if outcome.locked_now:
            seconds = gateway.settings.auth.lockout_seconds
            record_event(gateway, "lockout", request=request, actor=actor, actor_type="user", status=status, seconds=seconds)
        message = "Invalid username or password."
        if outcome.failure == "not_active" and outcome.user is not None:
            message = "This account is awaiting approval." if outcome.user.status == "pending" else "This account is not active."
        return _login_page(request, error=message, status_code=status, username=username)
    assert outcome.user is not None
    session_id, _ = await start_session(
        gateway,
        outcome.user,
        client=client_address(request.scope),
        user_agent=request.headers.get("user-agent"),
        lasts=console.settings.session_ttl,  # the session's record outlives the cookie
    )
    record_event(gateway, "login", request=request, actor=actor, actor_type="user", status=303, session=str(session_id), console=True)
    cookie = issue_session_cookie(gateway, str(outcome.user.id), outcome.user.role, str(session_id), console.settings.session_ttl)
    target = f"{PREFIX}/password" if outcome.user.must_change_password else _safe_next(str(form.get("next") or ""))
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, request, SESSION_COOKIE, cookie, max_age=console.settings.session_ttl)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


@open_during_password_change
@requires()
async def logout(request: Request) -> Response:
    """End this session at once (its cookie stops working, even if kept)."""
    gateway = console_of(request).gateway
    session_id = caller(request).extra.get("session_id")
    if session_id is not None:
        await end_session(gateway, session_id)
    record_event(gateway, "logout", request=request, status=303, session=str(session_id) if session_id else None)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@open_during_password_change
@requires()
async def password(request: Request) -> Response:
    """Change your own password (required after an admin reset it)."""
    console = console_of(request)
    principal = caller(request)
    if request.method == "GET":
        return console.render(request, "password.html", {"errors": [], "done": False})
    gateway = console.gateway
    form = await request.form()
    current, new, again = (str(form.get(k) or "") for k in ("current_password", "new_password", "confirm_password"))
    user = await get_user(gateway, principal.id)
    errors: list[str] = []
    if new != again:
        errors.append("The new passwords do not match.")
    elif new == current:
        errors.append("The new password must differ from the current one.")
    else:
        try:
            check_password(gateway, new, user.username, field="new_password")
        except HTTPError as exc:
            errors.extend(e["message"] for e in getattr(exc, "errors", []) or [{"message": str(exc)}])
    if not errors:
        outcome = await check_password_of(gateway, user, current)
        if outcome.failure is not None:
            record_event(gateway, "password_change_failed", request=request, status=422, reason=outcome.failure)
            errors.append("Too many failed attempts: try again later." if outcome.failure == "locked" else "The current password is wrong.")
    if errors:
        return console.render(request, "password.html", {"errors": errors, "done": False}, status_code=422)
    session_id = principal.extra.get("session_id")
    await set_password(gateway, user.id, new, must_change=False, keep_session=session_id if isinstance(session_id, uuid.UUID) else None)
    record_event(gateway, "password_changed", request=request, status=303)
    return RedirectResponse(PREFIX + "/", status_code=303)
