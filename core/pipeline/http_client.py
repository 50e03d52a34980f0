"""The gateway's outbound HTTP client: httpx's API over aiohttp's connection pool.

Plugins and destinations see an ordinary ``httpx.AsyncClient``. Underneath, requests go
through ``httpx_aiohttp`` (by httpx's maintainer): httpcore spends about 1.3 ms of CPU per
request, and over 3 ms with 64 requests in flight (its pool bookkeeping grows with the
number waiting); through aiohttp a request costs about 0.5 ms whatever the concurrency
(measured in ``bench/ingest.py``'s drain). The transport's error mapping is corrected so a
refused connection reads as ``ConnectError``, not as a timeout.
"""

from __future__ import annotations

import asyncio
import functools
import urllib.request

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from core.distribution import user_agent as gateway_user_agent
from core.pipeline.exchanges import record_exchange, recording


@functools.lru_cache(maxsize=512)
def env_proxy(scheme: str, host: str) -> str | None:
    """The proxy for ``scheme://host`` from ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY``, or ``None``.

    Read once per origin: aiohttp's own ``trust_env`` looks the environment and ``~/.netrc`` up
    again on every request, in a thread (it cost 60 % of a worker's CPU).
    """
    proxies = _environment_proxies()
    proxy = proxies.get(scheme)
    # proxy_bypass_environment is public in urllib.request but missing from typeshed.
    if not proxy or urllib.request.proxy_bypass_environment(host, proxies):  # type: ignore[attr-defined]
        return None
    return proxy


@functools.cache
def _environment_proxies() -> dict[str, str]:
    return urllib.request.getproxies_environment()


@functools.lru_cache(maxsize=512)
def _httpx_proxy(scheme: str, host: str) -> httpx.Proxy | None:
    proxy = env_proxy(scheme, host)
    return httpx.Proxy(proxy) if proxy else None


class Transport(AiohttpTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not recording():
            return await self._send(request)
        # A delivery attempt is running: record the exchange with it (core.pipeline.exchanges).
        # The answer's body is read here, which a caller would do anyway to judge it.
        method, url, headers = request.method, str(request.url), _decoded(request.headers.raw)
        try:
            body: bytes | None = request.content
        except httpx.RequestNotRead:  # a streamed body (a multipart upload): not read twice
            body = None
        try:
            response = await self._send(request)
            content = await response.aread()
        except Exception as err:
            record_exchange(method, url, headers=headers, body=body, error=f"{type(err).__name__}: {err}")
            raise
        record_exchange(
            method,
            url,
            headers=headers,
            body=body,
            status=response.status_code,
            response_headers=_decoded(response.headers.raw),
            response_body=content,
        )
        return response

    async def _send(self, request: httpx.Request) -> httpx.Response:
        # The base class reads self.proxy before its first await: set it for this request's origin.
        self.proxy = _httpx_proxy(request.url.scheme, request.url.host)
        try:
            return await super().handle_async_request(request)
        except httpx.TransportError as err:
            cause = err.__cause__
            if cause is None or isinstance(cause, asyncio.TimeoutError):
                raise
            if isinstance(cause, aiohttp.ClientConnectorError):
                raise httpx.ConnectError(str(cause), request=request) from cause
            if isinstance(cause, aiohttp.ServerDisconnectedError):
                raise httpx.RemoteProtocolError(str(cause), request=request) from cause
            if isinstance(cause, aiohttp.ClientConnectionError):
                raise httpx.ReadError(str(cause), request=request) from cause
            raise


def _decoded(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """Headers as sent and received (their names' case kept)."""
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]


def make_session(*, max_connections: int = 200, user_agent: str | None = None) -> aiohttp.ClientSession:
    """The aiohttp session under the shared client. Open and close it on the running loop.

    A destination that sends thousands of requests a second may use it directly (the built-in
    ``http`` destination does): 0.2 ms of CPU per request against 0.5 ms through httpx.
    """
    return aiohttp.ClientSession(
        # An idle connection is dropped here before the far side drops it: uvicorn and Node close
        # idle keep-alive connections after 5 s, and a request sent on one they closed at that
        # moment fails with a connection reset (seen: a burst's connections reused 5 s later).
        connector=aiohttp.TCPConnector(limit=max_connections, keepalive_timeout=4.0),
        headers={"User-Agent": user_agent or gateway_user_agent()},
        # Proxies come from env_proxy(), looked up once per origin (see there).
        trust_env=False,
        # Cookies: httpx's own jar for gateway.http; none kept for direct use (a forwarder
        # should not carry one destination answer's cookies into the next delivery).
        cookie_jar=aiohttp.DummyCookieJar(),
    )


def make_client(
    session: aiohttp.ClientSession, *, timeout: float, max_connections: int = 200, user_agent: str | None = None
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` over ``session``'s connection pool. Closing it closes the session.

    Both send ``user_agent``, by default the gateway's (``core.distribution.user_agent()``).
    """
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.AsyncClient(
        transport=Transport(limits=limits, client=session),
        timeout=httpx.Timeout(timeout),
        limits=limits,
        headers={"User-Agent": user_agent or gateway_user_agent()},
        follow_redirects=False,
    )
