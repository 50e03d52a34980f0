"""``core.principal_of``: who made a request, in a plugin's route; a 401 where nobody authenticated."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core import AuthenticationError, hookimpl, principal_of, requires
from core.testing import user_headers


async def whoami(request: Request) -> Response:
    principal = principal_of(request)
    return JSONResponse({"role": principal.role, "label": principal.label})


async def signed(request: Request) -> Response:
    raise AuthenticationError("signature mismatch")


class WhoPlugin:
    @hookimpl
    def switchboard_routes(self) -> list[BaseRoute]:
        return [
            Route("/guarded", requires("viewer")(whoami)),
            # A public route (like a web form's login) has no principal: asking for one is a 401.
            Route("/open", requires(public=True)(whoami)),
            # A route that checks its own credentials (a signature) and refuses them.
            Route("/signed", requires(public=True)(signed)),
        ]


async def test_principal_of_names_the_caller_and_refuses_an_anonymous_one(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(extra_plugins=[("who", WhoPlugin())]) as client:
        operator = await user_headers(client.gateway, "operator")
        r = await client.get("/plugins/who/guarded", headers=operator)
        assert (
            r.status_code == 200 and r.json()["role"] == "operator" and r.json()["label"].startswith("user:operator-")
        )
        r = await client.get("/plugins/who/open")
        assert r.status_code == 401 and "authentication required" in r.text


async def test_an_authentication_error_raised_in_a_route_is_a_401_not_a_500(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(extra_plugins=[("who", WhoPlugin())]) as client:
        r = await client.get("/plugins/who/signed")
        assert r.status_code == 401 and r.json()["error"] == "signature mismatch"
