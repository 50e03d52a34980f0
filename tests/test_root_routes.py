"""``core.at_root``: a plugin's routes at the root, guarded, and never shadowing the core's."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core import ConfigError, at_root, create_app, hookimpl, requires
from core.auth.users import insert_user
from core.testing import make_settings


@requires("viewer", basic=True)
async def hello(request: Request) -> Response:
    return JSONResponse({"hello": request.state.principal.name})


class RootPlugin:
    def __init__(self, path: str) -> None:
        self.path = path

    @hookimpl
    def switchboard_routes(self) -> list[BaseRoute]:
        return [at_root([Route(self.path, hello)])]


def test_a_root_route_that_shadows_a_core_route_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="may not shadow"):
        create_app(make_settings(tmp_path), plugins=[("rooted", RootPlugin("/api/users"))])


def test_a_root_route_under_a_core_prefix_but_on_no_core_path_is_accepted(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path), plugins=[("rooted", RootPlugin("/api/v9/hello"))])
    assert "/api/v9/hello" in app.state.gateway.plugins.infos["rooted"].routes


async def test_a_root_route_is_authenticated_and_accepts_basic_where_it_declares_it(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(extra_plugins=[("rooted", RootPlugin("/compat/hello"))]) as client:
        assert (await client.get("/compat/hello")).status_code == 401
        gateway = client.gateway
        await insert_user(gateway, "ada", "viewer", await gateway.auth.passwords.hash("a long passphrase"))
        basic = {"Authorization": "Basic " + base64.b64encode(b"ada:a long passphrase").decode()}
        r = await client.get("/compat/hello", headers=basic)
        assert r.status_code == 200 and r.json() == {"hello": "ada"}
        # Basic is accepted only on routes that declare it (requires(basic=True)): not on the core's.
        assert (await client.get("/api/auth/me", headers=basic)).status_code == 401


async def test_basic_auth_counts_against_the_login_rate_limit(app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(
        auth={"login_rate_per_minute": 2}, extra_plugins=[("rooted", RootPlugin("/compat/hello"))]
    ) as client:
        wrong = {"Authorization": "Basic " + base64.b64encode(b"nobody:wrong").decode()}
        statuses = [(await client.get("/compat/hello", headers=wrong)).status_code for _ in range(3)]
        assert statuses == [401, 401, 429]


def test_the_webhook_route_is_still_matched_before_any_root_route(tmp_path: Path) -> None:
    # Starlette tries the routes in order: every webhook would first try each root route's pattern.
    app = create_app(make_settings(tmp_path), plugins=[("rooted", RootPlugin("/compat/hello"))])
    paths = [getattr(route, "path", None) for route in app.router.routes]
    assert paths[0] == "/webhooks/{platform}"
    assert paths.index("/compat/hello") < paths.index("/healthz")
