"""The outbound HTTP client: proxies from the environment, errors named as httpx names them."""

from __future__ import annotations

import httpx
import pytest

from core.pipeline.http_client import _environment_proxies, _httpx_proxy, env_proxy, make_client, make_session


@pytest.fixture
def fresh_proxy_cache():  # type: ignore[no-untyped-def]
    for cached in (env_proxy, _environment_proxies, _httpx_proxy):
        cached.cache_clear()
    yield
    for cached in (env_proxy, _environment_proxies, _httpx_proxy):
        cached.cache_clear()


def test_proxies_come_from_the_environment_and_no_proxy_is_honoured(
    monkeypatch: pytest.MonkeyPatch,
    fresh_proxy_cache: None,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "dhis2.moh.local,.svc")
    assert env_proxy("https", "graph.facebook.com") == "http://proxy.internal:3128"
    assert env_proxy("https", "dhis2.moh.local") is None
    assert env_proxy("https", "crm.svc") is None
    assert env_proxy("http", "graph.facebook.com") is None  # no HTTP_PROXY set


def test_no_proxy_by_default(monkeypatch: pytest.MonkeyPatch, fresh_proxy_cache: None) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert env_proxy("https", "example.org") is None


async def test_a_refused_connection_is_a_connect_error_not_a_timeout() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: the connection is refused
        client = make_client(make_session(), timeout=5)
        try:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{port}/")
        finally:
            await client.aclose()


async def test_a_destinations_cookies_are_not_carried_into_the_next_request() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from tests.support.serving import serving

    seen: list[str | None] = []

    async def answer(request: Request) -> PlainTextResponse:
        seen.append(request.headers.get("cookie"))
        response = PlainTextResponse("ok")
        response.set_cookie("session", "from-the-first-answer")
        return response

    async with serving(Starlette(routes=[Route("/", answer, methods=["POST"])])) as url:
        session = make_session()
        try:
            for _ in range(2):
                # By host name: aiohttp never keeps cookies of a bare IP address anyway.
                async with session.post(url.replace("127.0.0.1", "localhost") + "/", data=b"{}") as r:
                    assert r.status == 200
        finally:
            await session.close()
    assert seen == [None, None]


async def test_outbound_requests_name_the_gateway_and_its_installed_version(client) -> None:  # type: ignore[no-untyped-def]
    """``gateway.http`` and the aiohttp session under it both send ``<distribution>/<version>``."""
    from importlib.metadata import version

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from tests.support.serving import serving

    seen: list[str | None] = []

    async def answer(request: Request) -> PlainTextResponse:
        seen.append(request.headers.get("user-agent"))
        return PlainTextResponse("ok")

    async with serving(Starlette(routes=[Route("/", answer)])) as url:
        assert (await client.gateway.http.get(url + "/")).status_code == 200
        async with client.gateway.http_session.get(url + "/") as r:
            assert r.status == 200
    assert seen == [f"switchboard-gateway/{version('switchboard-gateway')}"] * 2


def test_one_version_everywhere_read_from_the_distribution_pyproject_names(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``core.__version__``, the app's and the User-Agent's version: the installed distribution's, named once."""
    import tomllib
    from importlib.metadata import version
    from pathlib import Path

    import core
    from core import distribution
    from core.testing import make_settings
    from core.web.app import create_app

    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
    assert distribution.DISTRIBUTION == project["name"]
    assert core.__version__ == distribution.version() == version(project["name"])
    assert create_app(make_settings(tmp_path)).state.version == core.__version__
    assert distribution.user_agent() == f"{project['name']}/{core.__version__}"
