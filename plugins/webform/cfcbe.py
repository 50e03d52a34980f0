"""CFCBE's web-form URLs (``[plugins.webform.cfcbe]``): organisations' forms keep posting where they did.

| CFCBE | here |
| --- | --- |
| ``POST <prefix>/webhook/webform/auth/request-verification/`` | the e-mailed code (``request-verification``) |
| ``POST <prefix>/webhook/webform/auth/verify-otp/`` | the code for a form token (``verify-otp``) |
| ``POST <prefix>/webhook/webform/`` | the ``webform`` adapter (``/webhooks/webform``) |

Each with or without its trailing slash. The login routes take CFCBE's fields (``email``,
``organization_name``, ``otp``; the organisation by its slug or its name) and refuse in CFCBE's
words and codes, but for one: a mail server that will not take the code is a 502 here (CFCBE
answered 500). The codes, limits and token are the plugin's own (docs/webform.md).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core import BadRequest, HTTPError, NotFound, at_root, describe, gateway_of, parse_json, requires, webhook_route
from plugins.webform import organisations, otp
from plugins.webform.cors import with_cors
from plugins.webform.routes import limit_client
from plugins.webform.settings import EMAIL, CFCBESettings

FIELDS_MISSING = "Email and organization name are required"
CHECK_FIELDS_MISSING = "Email, OTP, and organization name are required"
NOT_SENT = "Failed to send verification email"
NO_PENDING = "No pending verification found for this email"
EXPIRED = "Verification has expired, please request a new code"
WRONG = "Invalid verification code"
# check_code's refusals, in CFCBE's words.
_CHECK_TEXTS = {otp.NO_PENDING: NO_PENDING, otp.EXPIRED: EXPIRED, otp.WRONG_CODE: WRONG}


def _text(data: dict[str, Any], *names: str) -> str:
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


async def _form(request: Request) -> dict[str, Any]:
    """The body: JSON, or a form (CFCBE's Django views read both)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        async with request.form(max_files=0, max_fields=20) as form:
            return {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        data = parse_json(await request.body())
    except BadRequest:  # not JSON: no fields, so CFCBE's "… are required"
        return {}
    return data if isinstance(data, dict) else {}


async def _organisation(request: Request, name: str) -> organisations.Org:
    """An organisation by its slug, or by its name (CFCBE's forms sent the name)."""
    gateway = gateway_of(request)
    org = await organisations.find(gateway, name.lower())
    if org is None:
        org = next((o for o in await organisations.all_organisations(gateway) if o.name.lower() == name.lower()), None)
    if org is None:
        raise NotFound("Organization not found")
    return org


def _email(value: str) -> str:
    email = value.lower()
    if len(email) > 254 or not EMAIL.match(email):
        raise BadRequest("Invalid email address")
    return email


@describe(tags=["webform"])
async def request_verification(request: Request) -> Response:
    """CFCBE's ``request-verification``: e-mail a code to ``email`` for ``organization_name``."""
    await limit_client(request, "send")
    data = await _form(request)
    email, name = _text(data, "email"), _text(data, "organization_name", "organization", "organisation")
    if not email or not name:
        raise BadRequest(FIELDS_MISSING)
    org = await _organisation(request, name)
    try:
        ttl = await otp.send_code(gateway_of(request), org, _email(email))
    except HTTPError as err:
        if err.status_code == 502:
            raise HTTPError(NOT_SENT, status_code=502) from err
        raise
    return JSONResponse({"message": "Verification code sent", "sent": True, "expires_in": ttl})


@describe(tags=["webform"])
async def verify_otp(request: Request) -> Response:
    """CFCBE's ``verify-otp``: the e-mailed code (``otp``) for a form token."""
    await limit_client(request, "verify")
    data = await _form(request)
    email, code = _text(data, "email"), _text(data, "otp", "code")
    name = _text(data, "organization_name", "organization", "organisation")
    if not email or not code or not name:
        raise BadRequest(CHECK_FIELDS_MISSING)
    org = await _organisation(request, name)
    try:
        token, ttl = await otp.check_code(gateway_of(request), org, _email(email), code)
    except HTTPError as err:
        text = _CHECK_TEXTS.get(str(err))
        if text is None:
            raise
        raise HTTPError(text, status_code=err.status_code) from err
    return JSONResponse({"token": token, "token_type": "Bearer", "expires_in": ttl, "organisation": org.slug})


def _both(path: str) -> tuple[str, str]:
    return path, path.rstrip("/")


def cfcbe_routes(settings: CFCBESettings) -> list[BaseRoute]:
    """CFCBE's web-form routes (``at_root``), or nothing when off."""
    if not settings.enabled:
        return []
    base = f"{settings.prefix}/webhook/webform"
    public = requires(public=True)
    login = [("/auth/request-verification/", request_verification), ("/auth/verify-otp/", verify_otp)]
    routes: list[BaseRoute] = [
        Route(path, public(with_cors(endpoint)), methods=["POST", "OPTIONS"])
        for suffix, endpoint in login
        for path in _both(base + suffix)
    ]
    routes += [webhook_route(path, "webform", methods=["POST", "OPTIONS"]) for path in _both(f"{base}/")]
    return [at_root(routes)]
