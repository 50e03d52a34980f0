"""CFCBE's web-form URLs ([plugins.webform.cfcbe]): an organisation's form, unchanged but for the base URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from plugins.webform.models import verifications
from tests.support.smtp import Inbox
from tests.webform.conftest import ORIGIN, code_in

CFCBE = {"cfcbe": {"enabled": True}}
AUTH = "/api/webhook/webform/auth"
ANN = "ann@example.net"


async def test_a_form_logs_in_and_submits_at_cfcbes_paths(webform_app, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app(**CFCBE) as client:
        ask = {"email": ANN, "organization_name": "Acme Helpline"}  # CFCBE's forms name the organisation
        r = await client.post(f"{AUTH}/request-verification/", json=ask, headers={"Origin": ORIGIN})
        assert r.status_code == 200, r.text
        assert r.headers["access-control-allow-origin"] == ORIGIN
        check = {"email": ANN, "otp": code_in(inbox), "organization_name": "Acme Helpline"}
        r = await client.post(f"{AUTH}/verify-otp", json=check)
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        form = {"name": "Ann", "message": "The clinic was closed.", "submission_id": "f-1"}
        r = await client.post("/api/webhook/webform/", json=form, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["stored"] == 1, r.text


async def test_the_preflight_of_cfcbes_login_is_answered(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app(**CFCBE) as client:
        preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
        r = await client.options(f"{AUTH}/request-verification", headers=preflight)
        assert r.status_code == 204 and r.headers["access-control-allow-origin"] == ORIGIN


async def test_missing_fields_are_refused_in_cfcbes_words(webform_app) -> None:  # type: ignore[no-untyped-def]
    async with webform_app(**CFCBE) as client:
        r = await client.post(f"{AUTH}/request-verification/", json={"email": ANN})
        assert (r.status_code, r.json()["error"]) == (400, "Email and organization name are required")
        r = await client.post(f"{AUTH}/verify-otp/", json={"email": ANN, "organization_name": "acme"})
        assert (r.status_code, r.json()["error"]) == (400, "Email, OTP, and organization name are required")


async def test_code_refusals_are_cfcbes_texts_and_codes(webform_app, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app(**CFCBE) as client:
        check = {"email": ANN, "otp": "000000", "organization_name": "acme"}
        r = await client.post(f"{AUTH}/verify-otp/", json=check)
        assert (r.status_code, r.json()["error"]) == (404, "No pending verification found for this email")
        await client.post(f"{AUTH}/request-verification/", json={"email": ANN, "organization_name": "acme"})
        wrong = "111111" if code_in(inbox) != "111111" else "222222"
        r = await client.post(f"{AUTH}/verify-otp/", json={**check, "otp": wrong})
        assert (r.status_code, r.json()["error"]) == (400, "Invalid verification code")
        async with client.gateway.db.transaction() as conn:
            await conn.execute(sa.update(verifications).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        r = await client.post(f"{AUTH}/verify-otp/", json={**check, "otp": code_in(inbox)})
        assert (r.status_code, r.json()["error"]) == (400, "Verification has expired, please request a new code")


async def test_a_mail_server_refusing_the_code_is_a_502_in_cfcbes_words(webform_app, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    async with webform_app(**CFCBE) as client:
        inbox.refuse = "550 mailbox unavailable"
        r = await client.post(f"{AUTH}/request-verification", json={"email": ANN, "organization_name": "acme"})
        assert (r.status_code, r.json()["error"]) == (502, "Failed to send verification email")
