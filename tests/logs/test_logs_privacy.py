"""Logs never carry personal data (issue #26 item 6).

Each journey runs with logging configured as ``switchboard serve`` / ``worker`` configure it
at ``log_level = "debug"`` with ``access_log = true``, in both formats, every logger's output
captured (the root's handler, and any logger that does not propagate to it). The output is
then searched for the journey's phone numbers, e-mail addresses, names and message texts;
a masked number (``+2567*******00``) is allowed, the number itself is not.

A destination that fails echoes what it was sent, as some do, so that an error message
copied into a log line would show.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.requests import Request

from core import Adapter, StandardMessage, hookimpl, mask
from core.config.logging import JSONFormatter, TextFormatter, configure_logging
from core.config.settings import DatabaseSettings
from core.pipeline.breaker import State, Verdict
from core.storage.db import make_engine
from core.testing import drain, settle
from tests.ceemis.cases import new_case, post_case
from tests.ceemis.conftest import ceemis_config
from tests.conftest import Stack
from tests.devices.device_steps import reading, register, upload
from tests.fakes.graph_api import FakeGraph
from tests.support.receiver import running_receiver
from tests.support.smtp import Inbox
from tests.webform.conftest import ORIGIN, form_token
from tests.whatsapp.support import WA_ID, outbound_message, payload, post_webhook, send, status_payload

DEBUG_SERVER = {"access_log": True, "log_level": "debug"}


@pytest.fixture(params=["text", "json"])
def log_output(request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """Logging as a server configures it (``log_format`` = the parameter, level debug); what it wrote."""
    manager = logging.root.manager
    loggers = [logging.getLogger(), *(lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    saved = {lg.name: (lg.handlers[:], lg.level, lg.propagate, lg.disabled) for lg in loggers}
    configure_logging(request.param, "debug")
    written = io.StringIO()
    [handler] = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(written)

    def output() -> str:
        # A library logger that keeps its lines to itself (propagate = False) is captured too.
        for lg in [lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger)]:
            if not lg.propagate and handler not in lg.handlers:
                lg.addHandler(handler)
        return written.getvalue()

    output()
    yield output
    for lg in [logging.getLogger(), *(lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger))]:
        name = lg.name
        if name in saved:
            lg.handlers[:], level, lg.propagate, lg.disabled = saved[name]
            lg.setLevel(level)
        elif handler in lg.handlers:
            lg.removeHandler(handler)


def assert_clean(logged: str, personal: tuple[str, ...], *, capture_check: bool = True) -> None:
    if capture_check:  # the capture works: the access log and the failed attempt's warning are in it
        assert "switchboard.access" in logged and "switchboard.delivery" in logged, logged[-2000:]
    leaks = {value: _where(logged, value) for value in personal if value.lower() in logged.lower()}
    assert not leaks, f"personal data in the logs: {leaks}"


def _where(logged: str, value: str) -> list[str]:
    """The first lines carrying ``value``: where each starts (time, level, logger) and the text around it."""
    found = []
    for line in logged.splitlines():
        at = line.lower().find(value.lower())
        if at >= 0:
            found.append(f"{line[:110]} … {line[max(0, at - 120) : at + len(value) + 40]}")
    return found[:3]


# -- WhatsApp ---------------------------------------------------------------------------------

WA_NAME = "Kerry Fisher"
WA_TEXT = "Hello, I need help with my account"
WA_REPLY = "Your counsellor Asha will call you at 5pm."


async def test_the_whatsapp_journey_logs_no_personal_data(
    whatsapp_client: Any, graph: FakeGraph, log_output: Callable[[], str]
) -> None:
    async with running_receiver() as helpline:
        # The helpline refuses the first forward, echoing what it got.
        helpline.fail_with(500, times=1, body=f"cannot store {WA_ID} {WA_NAME}: {WA_TEXT}".encode())
        async with whatsapp_client(
            server=DEBUG_SERVER,
            routes=[{"source": "whatsapp", "destinations": ["helpline"]}],
            plugins={"http": {"destinations": {"helpline": {"url": helpline.url}}}},
            delivery={"backoff_base": 0.01, "jitter": 0, "breaker": {"failures": 0}},
        ) as client:
            inbound = payload("text")
            assert (await post_webhook(client, inbound)).status_code == 200
            await settle(client.gateway)
            await drain(client.gateway, include_future=True)
            # The reply: Graph fails it once, echoing the number and the text, then takes it.
            graph.fail_next(131000, status=500, details=f"Message to +{WA_ID} failed: {WA_REPLY}")
            await send(client.gateway, outbound_message(WA_REPLY))
            await drain(client.gateway, include_future=True)
            await post_webhook(client, status_payload("failed", "wamid.HBgLfailed"))
            # A read with the number in the query string, as a careless integrator might.
            await client.get(f"/api/messages?participant=%2B{WA_ID}&q={WA_NAME}")
        assert len(helpline.accepted()) >= 1 and len(graph.sends()) == 2
    assert_clean(log_output(), (WA_ID, "650) 555", WA_NAME, WA_TEXT, WA_REPLY, "counsellor Asha"))


# -- Web form ---------------------------------------------------------------------------------

FORM_EMAIL = "nakato.sarah@example.net"
FORM_NAME = "Sarah Nakato"
FORM_TEXT = "The clinic in Gulu was closed for three days."


async def test_the_webform_journey_logs_no_personal_data(
    webform_app: Any, inbox: Inbox, log_output: Callable[[], str]
) -> None:
    async with running_receiver() as receiver:
        receiver.fail_with(502, times=1, body=f"rejected form from {FORM_EMAIL} ({FORM_NAME}): {FORM_TEXT}".encode())
        async with webform_app(
            http={"destinations": {"complaints": {"url": receiver.url}}},
            routes=[{"source": "webform", "destinations": ["complaints"]}],
            server=DEBUG_SERVER,
        ) as client:
            token = await form_token(client, inbox, FORM_EMAIL)
            r = await client.post(
                "/webhooks/webform",
                data={"name": FORM_NAME, "message": FORM_TEXT, "email": FORM_EMAIL},
                files={"evidence": ("letter.pdf", b"%PDF-1.4\n" + b"x" * 200, "application/pdf")},
                headers={"Authorization": f"Bearer {token}", "Origin": ORIGIN},
            )
            assert r.status_code == 200, r.text
            await settle(client.gateway)
            await drain(client.gateway, include_future=True)
            # A wrong code and an unknown organisation: refusals name nobody.
            await client.post(
                "/plugins/webform/auth/verify-otp",
                json={"email": FORM_EMAIL, "code": "000000", "organisation": "acme"},
            )
            await client.post(
                "/plugins/webform/auth/request-verification", json={"email": FORM_EMAIL, "organisation": "nobody"}
            )
        assert len(receiver.accepted()) == 1
    assert_clean(log_output(), (FORM_EMAIL, "nakato.sarah", FORM_NAME, FORM_TEXT))


# -- CEEMIS -----------------------------------------------------------------------------------

CASE_PHONE = "+256700100200"


async def test_the_ceemis_journey_logs_no_personal_data(
    app_client: Any, ceemis: Any, log_output: Callable[[], str]
) -> None:
    ceemis.fail_with(503, times=1)
    async with app_client(
        server=DEBUG_SERVER,
        plugins={"ceemis": ceemis_config(ceemis)},
        routes=[{"source": "helpline", "destinations": ["ceemis"]}],
        delivery={"backoff_base": 0.01, "jitter": 0, "breaker": {"failures": 0}},
    ) as client:
        await post_case(client, new_case())
        await post_case(client, {"ref": "HL-1001", "status": "in_progress", "narrative": "Called employer Mr. K."})
        # A case that CEEMIS refuses (the fake wants fields this one lacks) and a malformed one.
        await post_case(client, new_case("HL-1002", clients_case=[{"phone": CASE_PHONE}], case_category=""), status=422)
        await settle(client.gateway)
        await drain(client.gateway, include_future=True)
        await client.get(f"/plugins/ceemis/cases/HL-1001?phone={CASE_PHONE}")
    assert len(ceemis.answered()) == 2
    assert_clean(
        log_output(),
        (
            CASE_PHONE,
            "256700100200",
            "+966500000001",
            "aisha@example.org",
            "Aisha N.",
            "CM900112233",
            "B1234567",
            "passport held by employer",
            "Called employer",
            "Desert Homes",
        ),
    )


# -- Devices ----------------------------------------------------------------------------------

SUBJECT = "PATIENT-Okello-0042"


async def test_the_devices_journey_logs_no_personal_data(app_client: Any, log_output: Callable[[], str]) -> None:
    async with running_receiver() as receiver:
        receiver.fail_with(503, times=1, body=f"alert for {SUBJECT} not accepted".encode())
        async with app_client(
            server=DEBUG_SERVER,
            routes=[{"source": "devices", "destinations": ["nurse-desk"], "kinds": ["alert"]}],
            plugins={"http": {"destinations": {"nurse-desk": {"url": receiver.url}}}},
            delivery={"backoff_base": 0.01, "jitter": 0, "breaker": {"failures": 0}},
        ) as client:
            _, key = await register(client, subject=SUBJECT)
            await upload(client, key, [reading("r-1", value=96), reading("r-2", value=85), reading("r-3", value=140)])
            await settle(client.gateway)
            await drain(client.gateway, include_future=True)
            await client.get(f"/plugins/devices/readings?subject={SUBJECT}")
        assert len(receiver.accepted()) == 1
    assert_clean(log_output(), (SUBJECT, "Okello"))


# -- Causes, one by one -----------------------------------------------------------------------


class _Fussy(Adapter):
    """An adapter whose parse error quotes the value it choked on, as Python's own errors do."""

    name = "fussy"

    async def authenticate(self, request: Request, body: bytes) -> None:
        return None

    async def parse(self, request: Request, body: bytes) -> list[StandardMessage]:
        return [StandardMessage(platform="fussy", external_id="1", kind="text", text=str(int(body.decode())))]


class _FussyPlugin:
    @hookimpl
    def switchboard_adapters(self, gateway: Any) -> list[Adapter]:
        return [_Fussy()]


async def test_a_payload_an_adapter_cannot_parse_is_logged_without_its_values(
    app_client: Any, log_output: Callable[[], str]
) -> None:
    async with app_client(server=DEBUG_SERVER, extra_plugins=[("fussy", _FussyPlugin())]) as client:
        r = await client.post("/webhooks/fussy", content=WA_TEXT.encode())
    assert r.status_code == 400
    logged = log_output()
    assert "adapter fussy could not parse a request: ValueError" in logged
    assert "test_logs_privacy.py" in logged  # the traceback's frames are there to debug
    assert_clean(logged, (WA_TEXT,), capture_check=False)


async def test_a_database_error_carries_no_values_of_its_statement(clean_stack: Stack) -> None:
    # Its message is logged with its traceback wherever it is caught (a hook, a job, a request).
    engine = make_engine(DatabaseSettings(url=clean_stack.database_url))
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("CREATE TEMPORARY TABLE leak_check (phone TEXT UNIQUE)"))
            await conn.execute(sa.text("INSERT INTO leak_check VALUES (:p)"), {"p": CASE_PHONE})
            with pytest.raises(sa.exc.IntegrityError) as caught:
                await conn.execute(sa.text("INSERT INTO leak_check VALUES (:p)"), {"p": CASE_PHONE})
    finally:
        await engine.dispose()
    assert "INSERT INTO leak_check" in str(caught.value) and "256700100200" not in str(caught.value)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_formatters_mask_numbers_and_addresses_that_slipped_through(fmt: str) -> None:
    record = logging.makeLogRecord(
        {"name": "plugin", "levelno": logging.WARNING, "levelname": "WARNING", "msg": "sent to %s (%s)",
         "args": (CASE_PHONE, FORM_EMAIL), "recipient": f"tel:{CASE_PHONE}"}
    )  # fmt: skip
    try:
        raise KeyError(FORM_EMAIL)
    except KeyError:
        record.exc_info = sys.exc_info()
    line = (JSONFormatter() if fmt == "json" else TextFormatter()).format(record)
    assert "+256*******00" in line and "n***@example.net" in line
    assert CASE_PHONE not in line and FORM_EMAIL not in line


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("+256700100200", "+256*******00"),
        ("256700100200", "2567******00"),
        ("nakato.sarah@example.net", "n***@example.net"),
        ("call +256 700 100 200 or +1 (650) 555-1234", "call +256*******00 or +165******34"),
        ("write to a.b+c@mail.example.co.ug.", "write to a***@mail.example.co.ug."),
        # What is not a number written with its "+" or an address stays as it is.
        ("delivery 01a24a4d-7cf8-72bd-a1e3-86b6120e2dd6 at 2026-12-06T07:42:02Z", None),
        ("attempt 3 of 10, 1735689600 s, postgres@127.0.0.1", None),
        ("", None),
    ],
)
def test_mask(value: str, masked: str | None) -> None:
    assert mask(value) == (value if masked is None else masked)


async def test_a_paused_destination_is_logged_without_its_last_error(
    whatsapp_client: Any, log_output: Callable[[], str]
) -> None:
    # The last error is kept in the destination's state; it may quote the far side's answer.
    async with whatsapp_client(delivery={"breaker": {"failures": 1}}) as client:
        error = f"Graph error 131000: Something went wrong (Message to {WA_ID} failed: {WA_REPLY})"
        changed = await client.gateway.deliveries.breaker.record("whatsapp", Verdict.FAILURE, probe=False, error=error)
    assert changed is State.OPEN
    logged = log_output()
    assert "destination whatsapp paused after 1 failed attempts" in logged
    assert_clean(logged, (WA_ID, WA_REPLY), capture_check=False)
