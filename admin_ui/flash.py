"""What a form's POST has to say on the page it redirects to (post/redirect/get), kept in a cookie.

A POST answers 303 to a page, so reloading that page repeats nothing. What the POST has to say
("bob created"; a new key or temporary password, shown this once) travels in the
``sb_admin_flash`` cookie: encrypted (AES-GCM, a key derived from ``[auth] secret_key``), bound
to the session that made it, HttpOnly, and deleted by the page that shows it. A secret is never
in a URL, a log line or the audit log, and a reload does not show it again.
"""

from __future__ import annotations

import json
import os
from base64 import urlsafe_b64decode, urlsafe_b64encode
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin_ui.sessions import PREFIX, signed_in
from core.auth.tokens import derive_key

if TYPE_CHECKING:
    from core.gateway import Gateway

FLASH_COOKIE = "sb_admin_flash"
FLASH_SECONDS = 120


def _session_of(request: Request) -> bytes:
    principal = signed_in(request)
    return str(principal.extra.get("session_id") if principal is not None else "").encode()


def redirect_with(
    request: Request,
    gateway: Gateway,
    url: str,
    *,
    notice: str | None = None,
    secret: tuple[str, str] | None = None,
) -> Response:
    """303 to ``url`` (HTMX: ``HX-Redirect``), the page showing ``notice`` and ``secret`` (label, value) once."""
    htmx = request.headers.get("hx-request") == "true"
    response: Response = Response(status_code=200, headers={"HX-Redirect": url}) if htmx else RedirectResponse(url, 303)
    if notice is None and secret is None:
        return response
    nonce = os.urandom(12)
    data = json.dumps({"notice": notice, "secret": list(secret) if secret else None}).encode()
    sealed = AESGCM(derive_key(gateway, "admin-flash")).encrypt(nonce, data, _session_of(request))
    response.set_cookie(
        FLASH_COOKIE,
        urlsafe_b64encode(nonce + sealed).decode(),
        max_age=FLASH_SECONDS,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def flash_of(request: Request, gateway: Gateway) -> dict[str, Any] | None:
    """The flash this request's page shows, if it carries one made by this session (the caller then deletes it)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        blob = urlsafe_b64decode(raw.encode())
        data = AESGCM(derive_key(gateway, "admin-flash")).decrypt(blob[:12], blob[12:], _session_of(request))
        value = json.loads(data)
    except (ValueError, InvalidTag):  # another session's, tampered with, or made with an older secret
        return None
    return value if isinstance(value, dict) else None
