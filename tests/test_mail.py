"""``gateway.mail``: e-mail through the ``[mail]`` SMTP server, read back from a real server on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import MailError
from core.testing import gateway_client, make_settings
from tests.support.serving import free_port
from tests.support.smtp import smtp_server


def _mail(port: int, **extra: object) -> dict[str, object]:
    return {"host": "127.0.0.1", "port": port, "sender": "switchboard@example.org", "starttls": False, **extra}


async def test_a_message_with_html_and_an_attachment_reaches_the_server(tmp_path: Path) -> None:
    async with smtp_server() as inbox, gateway_client(make_settings(tmp_path, mail=_mail(inbox.port))) as client:
        await client.gateway.mail.send(
            ["ops@example.org", "lead@example.org"],
            "Weekly report",
            "See the attachment.",
            html="<p>See the <b>attachment</b>.</p>",
            attachments=[("report.csv", b"a,b\n1,2\n", "text/csv")],
            headers={"X-Report-Id": "r1"},
        )
        assert len(inbox.received) == 1
        recipients, message = inbox.received[0]
    assert recipients == ["ops@example.org", "lead@example.org"]
    assert message["Subject"] == "Weekly report"
    assert message["From"] == "switchboard@example.org"
    assert message["X-Report-Id"] == "r1"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().strip() == "See the attachment."
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "<b>attachment</b>" in html.get_content()
    attachments = list(message.iter_attachments())
    assert [(a.get_filename(), a.get_content_type(), a.get_content()) for a in attachments] == [
        ("report.csv", "text/csv", "a,b\n1,2\n")
    ]


async def test_a_refusal_by_the_server_is_a_mail_error_with_its_code(tmp_path: Path) -> None:
    async with smtp_server() as inbox, gateway_client(make_settings(tmp_path, mail=_mail(inbox.port))) as client:
        inbox.refuse = "550 mailbox unavailable"
        with pytest.raises(MailError) as caught:
            await client.gateway.mail.send("nobody@example.org", "Hello", "text")
    assert caught.value.code == 550


async def test_a_refusal_quoting_the_address_masks_it_in_the_error(tmp_path: Path) -> None:
    # The error is logged by whoever catches it: the address a server quotes back is masked.
    async with smtp_server() as inbox, gateway_client(make_settings(tmp_path, mail=_mail(inbox.port))) as client:
        inbox.refuse = "550 5.1.1 <nakato.sarah@example.net>: Recipient address rejected"
        with pytest.raises(MailError) as caught:
            await client.gateway.mail.send("nakato.sarah@example.net", "Hello", "text")
    assert "Recipient address rejected" in str(caught.value) and "n***@example.net" in str(caught.value)
    assert "nakato.sarah" not in str(caught.value)


async def test_an_unreachable_server_is_a_mail_error(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, mail=_mail(free_port(), timeout=5))
    async with gateway_client(settings) as client:
        with pytest.raises(MailError, match="could not send mail"):
            await client.gateway.mail.send("ops@example.org", "Hello", "text")


async def test_sending_without_a_configured_server_is_a_mail_error(tmp_path: Path) -> None:
    async with gateway_client(make_settings(tmp_path)) as client:
        with pytest.raises(MailError, match="not configured"):
            await client.gateway.mail.send("ops@example.org", "Hello", "text")


async def test_a_header_with_a_line_break_is_refused_before_sending(tmp_path: Path) -> None:
    async with smtp_server() as inbox, gateway_client(make_settings(tmp_path, mail=_mail(inbox.port))) as client:
        with pytest.raises(MailError, match="line breaks"):
            await client.gateway.mail.send("ops@example.org", "Hi\r\nBcc: x@example.org", "text")
        assert inbox.received == []


def test_the_mail_password_is_masked_in_the_printed_configuration(tmp_path: Path) -> None:
    from core.config.settings import settings_from_dict

    settings = settings_from_dict(
        {"mail": {"host": "smtp.example.org", "password": "${SMTP_PASSWORD}"}}, environ={"SMTP_PASSWORD": "hunter2"}
    )
    assert settings.mail.password == "hunter2"
    assert settings.masked()["mail"]["password"] == "***"
