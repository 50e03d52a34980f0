"""The console's session cookie and CSRF tokens, and the middleware that resolves both.

A login starts a core session (``core.auth.sessions.start_session``: logout and "log out
everywhere" end it) and sets a signed, HttpOnly, SameSite=Lax cookie holding a token issued
for the admin audience (the API refuses it as a bearer token). Each request re-reads the user
as a bearer token is re-read. Every state-changing request carries the session's CSRF token
(form field ``csrf_token`` or header ``X-CSRF-Token``); before login, a double-submit cookie.
A request with the API's own bearer token is not a browser's and needs no CSRF token; any other
state-changing request does. ``Authorization: Basic`` is never honoured here: a browser replays
it by itself once it has it, so it would be a credential that needs no CSRF token.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.auth.permissions import DEFERRED_BASIC, Principal
from core.errors import HTTPError
from core.scopes import header
from core.untrusted import constant_time_equal

if TYPE_CHECKING:
    from core.gateway import Gateway

SESSION_COOKIE = "sb_admin"
LOGIN_CSRF_COOKIE = "sb_admin_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = b"x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PREFIX = "/admin"


def audience(gateway: Gateway) -> str:
    return f"{gateway.settings.auth.audience}:admin"


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def issue_session_cookie(gateway: Gateway, user_id: str, role: str, session_id: str, ttl: int) -> str:
    """A token for the cookie: the admin audience, the session id and the session's CSRF token."""
    now = datetime.now(UTC)
    token, _ = gateway.auth.signer.issue(
        user_id,
        role,
        now=now,
        sid=session_id,
        csrf=new_csrf_token(),
        aud=audience(gateway),
        exp=int(now.timestamp()) + ttl,
    )
    return token


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def cookies_of(scope: Scope) -> dict[str, str]:
    raw = header(scope, b"cookie")
    if not raw:
        return {}
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # noqa: BLE001 - a malformed cookie header is no cookie at all
        return {}
    return {k: m.value for k, m in jar.items()}


ErrorPage = Callable[[Request, HTTPError], Awaitable[Response]]


class AdminSession:
    """Resolves the console's caller, checks CSRF, and turns refusals into pages.

    No session: a page is redirected to the login page (HTMX gets ``HX-Redirect``). A user who
    must change their password is sent to that screen. Other refusals (403, 404, 409, 422) are
    rendered by ``error_page`` with their status.
    """

    def __init__(self, app: ASGIApp, gateway: Gateway, error_page: ErrorPage) -> None:
        self.app = app
        self.gateway = gateway
        self.error_page = error_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        # Never Basic under /admin (only counted against the rate limit, below): the cookie decides.
        deferred_basic = state.pop(DEFERRED_BASIC, None)
        cookies = cookies_of(scope)
        principal: Principal | None = state.get("principal")
        from_header = principal is not None
        expected_csrf: str | None = None
        drop_cookie = False
        if principal is None and SESSION_COOKIE in cookies:
            try:
                principal = await self.gateway.auth.session_principal(cookies[SESSION_COOKIE], audience(self.gateway))
                expected_csrf = str(principal.extra["claims"].get("csrf", "")) or None
            except HTTPError:
                principal, drop_cookie = None, True
            state["principal"] = principal
        elif principal is None and self._is_login(scope):
            expected_csrf = cookies.get(LOGIN_CSRF_COOKIE)
        state["admin_csrf"] = expected_csrf or cookies.get(LOGIN_CSRF_COOKIE) or ""
        request = Request(scope)
        try:
            if deferred_basic is not None:
                await deferred_basic(False)
            if principal is not None and principal.kind != "user":
                raise HTTPError("the console is for people: API keys use /api", status_code=403)
            # Only the API's bearer token is no browser's: every other state-changing request shows the CSRF token.
            needs_csrf = not (from_header and _is_bearer(scope))
            if scope["method"] not in SAFE_METHODS and (self._is_login(scope) or (needs_csrf and principal is not None)):
                receive = await self._check_csrf(scope, receive, expected_csrf)
            await self.app(scope, receive, send)
        except HTTPError as exc:
            response = await self._refusal(request, exc, principal)
            if drop_cookie:
                response.delete_cookie(SESSION_COOKIE, path=PREFIX)
            await response(scope, receive, send)

    @staticmethod
    def _is_login(scope: Scope) -> bool:
        return str(scope["path"]).rstrip("/") == f"{PREFIX}/login"

    async def _check_csrf(self, scope: Scope, receive: Receive, expected: str | None) -> Receive:
        """Refuse (403) unless the header or the form's field holds ``expected``; the body is replayed."""
        given = header(scope, CSRF_HEADER)
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)

        def replay() -> Receive:
            sent = False

            async def receive_again() -> Message:
                nonlocal sent
                if sent:
                    return await receive()
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            return receive_again

        if given is None and body:
            form = await Request(scope, replay()).form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
            await form.close()
        if not expected or not given or not constant_time_equal(given, expected):
            raise HTTPError("this form has expired or did not come from this console: reload and try again", status_code=403)
        return replay()

    async def _refusal(self, request: Request, exc: HTTPError, principal: Principal | None) -> Response:
        htmx = request.headers.get("hx-request") == "true"
        target: str | None = None
        if exc.status_code == 401:
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            target = f"{PREFIX}/login?next={quote(path, safe='')}" if request.method == "GET" else f"{PREFIX}/login"
        elif exc.status_code == 403 and principal is not None and principal.must_change_password:
            target = f"{PREFIX}/password"
        if target is not None:
            if htmx:
                return Response(status_code=200, headers={"HX-Redirect": target})
            return RedirectResponse(target, status_code=303)
        return await self.error_page(request, exc)


def _is_bearer(scope: Scope) -> bool:
    authorization = header(scope, b"authorization") or ""
    return authorization.partition(" ")[0].lower() == "bearer"


def signed_in(request: Request) -> Principal | None:
    """Who is signed in, or None (the login page, an error before authentication)."""
    return getattr(request.state, "principal", None)


def csrf_of(request: Request) -> str:
    return str(getattr(request.state, "admin_csrf", ""))


def claims_of(principal: Principal) -> dict[str, Any]:
    return dict(principal.extra.get("claims", {}))
