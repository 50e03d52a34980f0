"""``/plugins/webform``: the form user's login (an e-mailed code) and the organisations API.

The two ``auth`` routes are public: they are how anonymous form users log in. Each is limited
per client address (``ip_requests`` per ``ip_window``, in the core's limiter: Redis with the
arq backend) on top of the per-address limits of the codes themselves.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core import BadRequest, NotFound, describe, gateway_of, rate_limit, read_json, requires
from plugins.webform import organisations, otp
from plugins.webform.cors import with_cors
from plugins.webform.settings import EMAIL, SLUG, Organisation


class VerificationRequest(BaseModel):
    email: str
    organisation: str


class CodeCheck(BaseModel):
    email: str
    code: str
    organisation: str


class NewOrganisation(Organisation):
    model_config = ConfigDict(extra="forbid")
    slug: str = Field(pattern=SLUG.pattern)


def _fields(data: Any, names: tuple[str, ...]) -> dict[str, str]:
    """The named string fields of a JSON object; 400 naming those missing or empty."""
    if not isinstance(data, dict):
        raise BadRequest("expected a JSON object")
    missing = [n for n in names if not isinstance(data.get(n), str) or not data[n].strip()]
    if missing:
        raise BadRequest(
            f"missing field(s): {', '.join(missing)}",
            errors=[{"field": n, "message": "required"} for n in missing],
        )
    return {n: data[n].strip() for n in names}


def _email(value: str) -> str:
    email = value.lower()
    if len(email) > 254 or not EMAIL.match(email):
        raise BadRequest("not an e-mail address", errors=[{"field": "email", "message": "not an e-mail address"}])
    return email


async def limit_client(request: Request, action: str) -> None:
    """The per-address limit of the login routes (``ip_requests`` per ``ip_window``)."""
    gateway = gateway_of(request)
    settings = organisations.settings_of(gateway)
    client = request.client.host if request.client else "unknown"
    await rate_limit(gateway, f"webform:{action}:{client}", limit=settings.ip_requests, period=settings.ip_window)


async def _organisation(request: Request, slug: str) -> organisations.Org:
    org = await organisations.find(gateway_of(request), slug)
    if org is None:
        raise NotFound(f"no organisation {slug!r}")
    return org


@describe(body=VerificationRequest, tags=["webform"])
async def request_verification(request: Request) -> Response:
    """E-mail a 6-digit code to ``email`` for a form of ``organisation``."""
    await limit_client(request, "send")
    data = _fields(await read_json(request), ("email", "organisation"))
    email = _email(data["email"])
    org = await _organisation(request, data["organisation"])
    ttl = await otp.send_code(gateway_of(request), org, email)
    return JSONResponse({"sent": True, "expires_in": ttl}, status_code=202)


@describe(body=CodeCheck, tags=["webform"])
async def verify_otp(request: Request) -> Response:
    """Exchange the e-mailed code for a form token (``Authorization: Bearer`` on /webhooks/webform)."""
    await limit_client(request, "verify")
    data = _fields(await read_json(request), ("email", "code", "organisation"))
    email = _email(data["email"])
    org = await _organisation(request, data["organisation"])
    token, ttl = await otp.check_code(gateway_of(request), org, email, data["code"])
    return JSONResponse({"token": token, "token_type": "Bearer", "expires_in": ttl, "organisation": org.slug})


@requires("webform.manage", scopes=["webform:admin"])
async def list_organisations(request: Request) -> Response:
    """Every organisation: ``source`` says config.toml (read-only) or the API."""
    found = await organisations.all_organisations(gateway_of(request))
    return JSONResponse({"items": [o.to_dict() for o in found]})


@requires("webform.manage", scopes=["webform:admin"])
@describe(body=NewOrganisation, tags=["webform"])
async def create_organisation(request: Request) -> Response:
    """Add an organisation (409 when its slug is taken, in config.toml or here)."""
    body = await read_json(request, NewOrganisation)
    org = Organisation(name=body.name, origins=body.origins, notify=body.notify)
    created = await organisations.create(gateway_of(request), body.slug, org)
    return JSONResponse(created.to_dict(), status_code=201)


@requires("webform.manage", scopes=["webform:admin"])
async def get_organisation(request: Request) -> Response:
    """One organisation."""
    return JSONResponse((await _organisation(request, request.path_params["slug"])).to_dict())


@requires("webform.manage", scopes=["webform:admin"])
@describe(body=Organisation, tags=["webform"])
async def replace_organisation(request: Request) -> Response:
    """Change an organisation added through the API (409 for one of config.toml)."""
    body = await read_json(request, Organisation)
    changed = await organisations.replace(gateway_of(request), request.path_params["slug"], body)
    return JSONResponse(changed.to_dict())


@requires("webform.manage", scopes=["webform:admin"])
async def delete_organisation(request: Request) -> Response:
    """Remove an organisation added through the API (409 for one of config.toml)."""
    await organisations.delete(gateway_of(request), request.path_params["slug"])
    return Response(status_code=204)


def webform_routes() -> list[BaseRoute]:
    public = requires(public=True)
    return [
        Route("/auth/request-verification", public(with_cors(request_verification)), methods=["POST", "OPTIONS"]),
        Route("/auth/verify-otp", public(with_cors(verify_otp)), methods=["POST", "OPTIONS"]),
        Route("/organisations", list_organisations, methods=["GET"]),
        Route("/organisations", create_organisation, methods=["POST"]),
        Route("/organisations/{slug}", get_organisation, methods=["GET"]),
        Route("/organisations/{slug}", replace_organisation, methods=["PUT"]),
        Route("/organisations/{slug}", delete_organisation, methods=["DELETE"]),
    ]
