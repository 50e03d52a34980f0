"""``Authorization: Basic`` where a route declares it: a wrong credential is a failed login (rate
limit, lockout), a right one is not (``core.auth.basic``)."""

from __future__ import annotations

import base64

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core import at_root, hookimpl, requires
from tests.support.auth import PASSWORD, audit_rows, make_user


@requires("viewer", basic=True)
async def hello(request: Request) -> Response:
    return JSONResponse({"hello": request.state.principal.name})


class BasicRoutePlugin:
    @hookimpl
    def switchboard_routes(self) -> list[BaseRoute]:
        return [at_root([Route("/compat/hello", hello)])]


def basic_header(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


async def test_right_basic_requests_leave_the_login_limit_to_wrong_ones(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(auth={"login_rate_per_minute": 2}, extra_plugins=[("basic", BasicRoutePlugin())]) as client:
        await make_user(client.gateway, "fatuma")
        right = [(await client.get("/compat/hello", headers=basic_header("fatuma", PASSWORD))).status_code for _ in range(5)]
        assert right == [200] * 5
        wrong = [
            (await client.get("/compat/hello", headers=basic_header("fatuma", f"guess-{n}"))).status_code for n in range(3)
        ]
        assert wrong == [401, 401, 429]
        failures = [row for row in await audit_rows(client.gateway) if row.action == "login_failed"]
        assert [row.detail["scheme"] for row in failures] == ["basic", "basic"]


async def test_a_remembered_basic_credential_is_refused_while_the_account_is_locked(app_client) -> None:  # type: ignore[no-untyped-def]
    auth = {"lockout_attempts": 2, "login_rate_per_minute": 100}
    async with app_client(auth=auth, extra_plugins=[("basic", BasicRoutePlugin())]) as client:
        await make_user(client.gateway, "gimbi")
        assert (await client.get("/compat/hello", headers=basic_header("gimbi", PASSWORD))).status_code == 200
        for n in range(2):
            assert (await client.get("/compat/hello", headers=basic_header("gimbi", f"guess-{n}"))).status_code == 401
        assert (await client.get("/compat/hello", headers=basic_header("gimbi", PASSWORD))).status_code == 401
