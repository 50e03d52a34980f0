"""Each delivery attempt keeps what it sent and what came back (method, URL, headers, body; status,
headers, body), redacted with the audit redact keys and cut at ``[audit] max_payload_bytes``, for a
destination on ``gateway.http``, the ``http`` plugin's own client and SMTP; the API shows them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core import DeliveryInfo, DeliveryResult, Destination, Gateway, StandardMessage, hookimpl, raise_for_response
from core.pipeline.exchanges import HEADER_VERDICTS, ExchangeRedactor, capture, record_exchange
from core.redaction import REDACTED, Redactor
from core.testing import (
    GatewayClient,
    delivery_statuses,
    gateway_client,
    make_settings,
    run_jobs,
    settle,
    user_headers,
    wait_until,
)
from tests.support.echo import item, post_echo
from tests.support.receiver import Receiver, running_receiver
from tests.support.smtp import smtp_server


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as r:
        yield r


class LookupThenPost(Destination):
    """Asks the far side something, then posts: two exchanges through ``gateway.http``."""

    name = "twostep"

    def __init__(self, gateway: Gateway, url: str) -> None:
        self.gateway, self.url = gateway, url

    async def deliver(self, message: StandardMessage, delivery: DeliveryInfo) -> DeliveryResult:
        await self.gateway.http.put(f"{self.url}/lookup", params={"q": "x", "access_token": "query-secret"})
        body = {"text": message.text, "password": "body-secret", "padding": "p" * 300}
        response = await self.gateway.http.post(self.url, json=body, headers={"X-API-Key": "header-secret"})
        raise_for_response(response)
        return DeliveryResult(status_code=response.status_code)


class TwoStepPlugin:
    def __init__(self, url: str) -> None:
        self.url = url

    @hookimpl
    def switchboard_destinations(self, gateway: Gateway) -> list[Destination]:
        return [LookupThenPost(gateway, self.url)]


async def settle_here(client: GatewayClient, expected: dict[str, int]) -> None:
    async def done() -> bool:
        await run_jobs(client.gateway, share=True)  # a worker with this test's destination
        return await delivery_statuses(client.gateway) == expected

    await wait_until(done, timeout=30, interval=0, message=f"the deliveries to be {expected}")


async def api_delivery(client: GatewayClient, delivery_id: str) -> dict[str, Any]:
    r = await client.get(f"/api/deliveries/{delivery_id}", headers=await user_headers(client.gateway, "viewer"))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_the_http_plugin_attempt_keeps_its_request_and_response_redacted(
    example_installed: None,
    app_client,  # type: ignore[no-untyped-def]
    receiver: Receiver,
) -> None:
    template = '{"text": {{ message.text|tojson }}, "password": "tpl-secret"}'
    crm = {"url": receiver.url, "max_attempts": 1, "auth": {"type": "bearer", "token": "bearer-secret"}}
    async with app_client(
        routes=[{"source": "echo", "destinations": ["crm"]}],
        plugins={"http": {"destinations": {"crm": crm | {"template": template}}}},
    ) as client:
        receiver.fail_with(400, body=b'{"reason": "bad sender", "access_token": "answer-secret"}')
        stored = await post_echo(client, item("x1", text="hello there"))
        assert await settle(client.gateway) == {"dead": 1}
        delivery = await api_delivery(client, stored["messages"][0]["deliveries"][0])
    [attempt] = delivery["attempts"]
    [exchange] = attempt["exchanges"]
    request, response = exchange["request"], exchange["response"]
    assert request["method"] == "POST" and request["url"] == receiver.url
    headers = dict(request["headers"])
    assert headers["Authorization"] == REDACTED and headers["Idempotency-Key"]
    sent = json.loads(request["body"]["text"])
    assert sent == {"text": "hello there", "password": REDACTED}
    assert response["status"] == 400
    assert dict((k.lower(), v) for k, v in response["headers"])["content-type"].startswith("text/plain")
    assert json.loads(response["body"]["text"]) == {"reason": "bad sender", "access_token": REDACTED}
    assert not any(s in json.dumps(attempt["exchanges"]) for s in ("bearer-secret", "tpl-secret", "answer-secret"))


async def test_every_exchange_through_gateway_http_is_kept_and_bodies_are_cut(
    app_client,  # type: ignore[no-untyped-def]
    receiver: Receiver,
) -> None:
    plugin = TwoStepPlugin(receiver.url)
    async with app_client(extra_plugins=[("twostep", plugin)], audit={"max_payload_bytes": 120}) as client:
        message = StandardMessage(platform="test", external_id="t1", kind="text", sender="+255700000009", text="hi")
        [stored] = await client.gateway.submit([message], destinations=["twostep"])
        await settle_here(client, {"delivered": 1})
        delivery = await api_delivery(client, str(stored.delivery_ids[0]))
    lookup, post = delivery["attempts"][0]["exchanges"]
    assert lookup["request"]["method"] == "PUT" and lookup["request"]["body"] is None
    assert lookup["request"]["url"] == f"{receiver.url}/lookup?q=x&access_token={REDACTED}"
    assert lookup["response"]["status"] == 200 and json.loads(lookup["response"]["body"]["text"]) == {"id": "r-1"}
    assert post["request"]["method"] == "POST"
    assert dict(post["request"]["headers"])["X-API-Key"] == REDACTED
    body = post["request"]["body"]
    assert body["truncated"] is True and len(body["text"]) == 120 and body["size"] > 300
    assert '"password": "[redacted]"' in body["text"]
    assert "header-secret" not in json.dumps(delivery) and "body-secret" not in json.dumps(delivery)


async def test_an_attempt_that_got_no_answer_keeps_the_request_and_the_error(
    app_client,  # type: ignore[no-untyped-def]
) -> None:
    from tests.support.serving import free_port

    closed = f"http://127.0.0.1:{free_port()}"
    async with app_client(extra_plugins=[("twostep", TwoStepPlugin(closed))], delivery={"max_attempts": 1}) as client:
        message = StandardMessage(platform="test", external_id="t2", kind="text", sender="+255700000009", text="hi")
        [stored] = await client.gateway.submit([message], destinations=["twostep"])
        await settle_here(client, {"dead": 1})
        delivery = await api_delivery(client, str(stored.delivery_ids[0]))
    [exchange] = delivery["attempts"][0]["exchanges"]
    assert exchange["request"]["method"] == "PUT" and exchange["response"]["error"].startswith("ConnectError")


async def test_gateway_http_outside_an_attempt_records_nothing(app_client, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    async with app_client() as client:
        with capture() as exchanges:
            await client.gateway.http.post(receiver.url)
        assert len(exchanges) == 1
        await client.gateway.http.post(receiver.url)  # no capture: nothing to record into
        assert len(exchanges) == 1
    record_exchange("GET", "http://example.invalid/")  # outside any attempt: a no-op


async def test_smtp_records_a_summary_of_the_exchange(tmp_path: Path) -> None:
    mail = {"host": "127.0.0.1", "sender": "switchboard@example.org", "starttls": False}
    async with smtp_server() as inbox, gateway_client(make_settings(tmp_path, mail=mail | {"port": inbox.port})) as gw:
        with capture() as exchanges:
            await gw.gateway.mail.send("ops@example.org", "Hello", "the body text", html="<p>the body</p>")
    [exchange] = exchanges
    assert exchange.method == "SMTP" and exchange.url == f"smtp://127.0.0.1:{inbox.port}"
    assert ("Subject", "Hello") in exchange.request_headers
    assert isinstance(exchange.request_body, str) and "text/plain, text/html" in exchange.request_body
    assert "the body text" not in exchange.request_body
    assert exchange.status == 250 and exchange.response_body


def test_redaction_of_urls_forms_and_text_that_is_not_json() -> None:
    redactor = ExchangeRedactor(Redactor(["password", "token"]), max_body=1000)
    assert "s3" not in redactor.url("https://user:s3@example.org/x?token=abc&page=2")
    assert "abc" not in redactor.url("https://example.org/x?token=abc&page=2")
    assert "page=2" in redactor.url("https://example.org/x?token=abc&page=2")
    form = redactor.body(b"username=ann&password=hunter2", "application/x-www-form-urlencoded")
    assert form is not None and "hunter2" not in form["text"] and "username=ann" in form["text"]
    cut_json = redactor.body('{"name": "ann", "password": "hunter2", "tok', "application/json")
    assert cut_json is not None and "hunter2" not in cut_json["text"] and '"name": "ann"' in cut_json["text"]
    assert redactor.body(b"\xff\xd8\xff\xe0", "image/jpeg") == {"size": 4, "binary": True}
    headers = redactor.headers([("Cookie", "sid=1"), ("Proxy-Authorization", "x"), ("Accept", "*/*")])
    assert headers == [["Cookie", REDACTED], ["Proxy-Authorization", REDACTED], ["Accept", "*/*"]]


def test_header_verdicts_hold_for_every_name_past_the_kept_ones() -> None:
    # Verdicts are kept by header name, up to HEADER_VERDICTS names: past them each is judged anew.
    redactor = ExchangeRedactor(Redactor(["session"]), 4096)
    noise = [(f"X-Noise-{i}", "v") for i in range(HEADER_VERDICTS + 10)]
    headers = [*noise, ("authorization", "Bearer t"), ("X-Session-Id", "s"), ("Content-Type", "text/plain")]
    for _ in range(2):  # the second pass answers from what the first kept
        judged = redactor.headers(headers)
        assert [v for _, v in judged[-3:]] == [REDACTED, REDACTED, "text/plain"]
        assert all(v == "v" for _, v in judged[:-3])


def test_a_json_body_with_no_redact_word_is_kept_as_sent_and_an_escaped_key_is_still_masked() -> None:
    redactor = ExchangeRedactor(Redactor(["password", "token"]), max_body=1000)
    sent = '{"text":"hi","sender":"+255700000009","tags":["a"]}'
    assert redactor.body(sent, "application/json") == {"text": sent, "size": len(sent), "truncated": False}
    # A key spelled with \u escapes holds no redact word as sent; parsed, it is "password".
    escaped = '{"name":"ann","pass\\u0077ord":"hunter2"}'
    body = redactor.body(escaped, "application/json")
    assert body is not None and "hunter2" not in body["text"]
    assert json.loads(body["text"]) == {"name": "ann", "password": REDACTED}
    upper = redactor.body('{"Access_TOKEN": "t-1", "n": 1}', "application/json")
    assert upper is not None and json.loads(upper["text"]) == {"Access_TOKEN": REDACTED, "n": 1}
    # Characters the pattern matches case-insensitively to a word's letters (long s, Kelvin sign).
    for key in ("pa\u017f\u017fword", "to\u212aen"):
        folded = redactor.body(json.dumps({key: "s-1"}, ensure_ascii=False), "application/json")
        assert folded is not None and json.loads(folded["text"]) == {key: REDACTED}


def test_key_verdicts_hold_past_the_kept_ones() -> None:
    from core.redaction import _VERDICTS

    redact = Redactor(["secret"])
    keys = [f"k{i}" for i in range(_VERDICTS + 10)]
    for _ in range(2):  # the second pass answers from what the first kept
        assert redact({k: 1 for k in keys} | {"my_secret": "s", "SECRET2": "t"}) == {k: 1 for k in keys} | {
            "my_secret": REDACTED,
            "SECRET2": REDACTED,
        }
