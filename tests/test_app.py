"""The app shell: request ids, body limits, JSON errors, health, readiness, OpenAPI and docs."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from core.config.logging import JSONFormatter
from core.testing import gateway_client, make_settings


async def test_every_response_carries_a_request_id_taken_from_the_caller(client) -> None:  # type: ignore[no-untyped-def]
    assert len((await client.get("/healthz")).headers["x-request-id"]) == 32
    given = await client.get("/healthz", headers={"X-Request-ID": "trace-abc.123"})
    assert given.headers["x-request-id"] == "trace-abc.123"
    # An id that could smuggle anything into logs is replaced, not echoed.
    odd = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert odd.headers["x-request-id"] != "bad id\twith spaces"


async def test_errors_are_json_with_the_request_id(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.get("/no/such/route")
    assert r.status_code == 404
    assert r.json()["error"] == "not found" and r.json()["request_id"] == r.headers["x-request-id"]
    assert (await client.delete("/healthz")).status_code == 405


@pytest.mark.parametrize(
    "declared", ["²", "9" * 5000, "-1", "１２"], ids=["superscript", "5000-digits", "negative", "full-width"]
)
async def test_an_unreadable_content_length_is_a_400(client, declared: str) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/auth/login", content=b"{}", headers={"Content-Length": declared.encode()})
    assert r.status_code == 400 and r.json()["error"] == "invalid Content-Length"


async def test_unknown_platform_is_404_and_verify_without_handshake_is_405(example_installed: None, client) -> None:  # type: ignore[no-untyped-def]
    assert (await client.post("/webhooks/nosuch", content=b"{}")).status_code == 404
    assert (await client.get("/webhooks/echo")).status_code == 405


async def test_oversized_body_is_413_and_stores_nothing(example_installed: None, app_client) -> None:  # type: ignore[no-untyped-def]
    async with app_client(server={"max_body_bytes": 2048}) as client:
        big = json.dumps([{"id": "big", "from": "+1", "text": "x" * 4000}]).encode()
        r = await client.post("/webhooks/echo", content=big, headers={"x-echo-token": "example-token"})
        assert r.status_code == 413 and "2048" in r.json()["error"]

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(4):
                yield b"x" * 1000

        streamed = await client.post("/webhooks/echo", content=chunks(), headers={"x-echo-token": "example-token"})
        assert streamed.status_code == 413
        assert (await client.gateway.ingest.submit([])) == []


async def test_malformed_payload_is_a_400_never_a_500(example_installed: None, client) -> None:  # type: ignore[no-untyped-def]
    headers = {"x-echo-token": "example-token"}
    assert (await client.post("/webhooks/echo", content=b"not json", headers=headers)).status_code == 400
    missing_id = await client.post("/webhooks/echo", content=b'[{"from": "x"}]', headers=headers)
    assert missing_id.status_code == 400 and "malformed" in missing_id.json()["error"]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"id": "n1", "from": 256700100200, "text": "hi"}, "sender"),
        ({"id": "n2", "from": "+256700100200", "text": ["hi"]}, "text"),
        ({"id": "n3", "from": {"phone": "+256700100200"}, "text": "hi"}, "sender"),
        ({"id": "n4", "from": True, "text": "hi"}, "sender"),
    ],
    ids=["number-sender", "list-text", "object-sender", "boolean-sender"],
)
async def test_a_value_of_the_wrong_type_passed_on_by_an_adapter_is_a_400_naming_the_field(
    example_installed: None, client, item: dict[str, object], field: str
) -> None:  # type: ignore[no-untyped-def]
    # The example adapter hands the payload's values to StandardMessage as they come, as many do.
    r = await client.post(
        "/webhooks/echo", content=json.dumps([item]).encode(), headers={"x-echo-token": "example-token"}
    )
    assert r.status_code == 400, r.text
    assert f"StandardMessage.{field}" in r.json()["error"]
    assert (await client.get("/api/messages", headers=await _admin(client))).json()["items"] == []


async def test_unhandled_error_is_a_json_500_without_traceback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from starlette.routing import Route

    from core import hookimpl, requires

    @requires(public=True)
    async def boom(request):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals")

    class Boom:
        @hookimpl
        def switchboard_routes(self):  # type: ignore[no-untyped-def]
            return [Route("/boom", boom)]

    async with gateway_client(make_settings(tmp_path), plugins=[("boom", Boom())]) as client:
        r = await client.get("/plugins/boom/boom")
        assert r.status_code == 500
        assert r.json()["error"] == "internal error" and "secret" not in r.text
        assert r.headers["x-request-id"] == r.json()["request_id"]


async def test_readyz_reports_each_component(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["components"]["database"]["status"] == "ok"
    assert any(name.startswith("queue:") for name in r.json()["components"])


async def test_readyz_is_503_when_the_database_is_unreachable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    async with gateway_client(settings, migrate=False) as client:
        r = await client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["components"]["database"]["status"] == "down"


async def test_readyz_is_503_when_redis_is_unreachable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, queue={"backend": "arq", "redis_url": "redis://127.0.0.1:1/0"})
    async with gateway_client(settings) as client:
        r = await client.get("/readyz")
        assert r.status_code == 503 and r.json()["components"]["queue:arq"]["status"] == "down"


async def test_openapi_covers_core_and_plugin_routes(example_installed: None, client) -> None:  # type: ignore[no-untyped-def]
    doc = (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    assert "/webhooks/{platform}" in paths and "/api/deliveries/{id}/requeue" in paths
    assert "/plugins/example/hello" in paths
    assert paths["/api/deliveries/{id}/requeue"]["post"]["x-required-permission"] == "deliveries.repair"
    assert any(p["name"] == "status" for p in paths["/api/deliveries"]["get"]["parameters"])


async def test_docs_page_uses_vendored_swagger_ui(client) -> None:  # type: ignore[no-untyped-def]
    page = await client.get("/docs")
    assert page.status_code == 200 and "/docs/static/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    bundle = await client.get("/docs/static/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 100_000


def test_logs_can_be_json_lines_with_the_request_id() -> None:
    from core.web.middleware import request_id_var

    token = request_id_var.set("req-42")
    try:
        record = logging.LogRecord("switchboard.test", logging.INFO, __file__, 1, "hello %s", ("world",), None)
        line = json.loads(JSONFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "hello world" and line["request_id"] == "req-42" and line["level"] == "info"


async def test_two_apps_side_by_side_share_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    one = make_settings(tmp_path / "one")
    two = make_settings(tmp_path / "two")
    async with gateway_client(one) as a, gateway_client(two) as b:
        assert a.gateway is not b.gateway and a.gateway.db.engine is not b.gateway.db.engine
        assert a.gateway.plugins.pm is not b.gateway.plugins.pm
        assert (await a.get("/healthz")).status_code == (await b.get("/healthz")).status_code == 200


def test_http_client_is_created_on_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.gateway import Gateway

    with pytest.raises(RuntimeError, match="has not started"):
        _ = Gateway(make_settings(tmp_path)).http
    assert isinstance(httpx.AsyncClient, type)


async def _admin(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from core.testing import user_headers

    return await user_headers(client.gateway, "admin")


def test_media_as_a_tuple_and_mappings_other_than_dicts_are_still_taken_as_lists_of_dicts() -> None:
    from types import MappingProxyType

    from core.messages import StandardMessage

    # What StandardMessage took before it checked types keeps working (a plugin may pass these).
    photo = MappingProxyType({"id": "m-1", "mime_type": "image/jpeg"})
    message = StandardMessage(
        platform="echo", external_id="t-1", kind="image", media=(photo,), extra=MappingProxyType({"a": 1})
    )
    assert message.media == [{"id": "m-1", "mime_type": "image/jpeg"}] and type(message.media[0]) is dict
    assert message.extra == {"a": 1} and type(message.extra) is dict
    assert message.to_dict()["media"] == [{"id": "m-1", "mime_type": "image/jpeg"}]
