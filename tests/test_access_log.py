"""``[server] access_log``: one line per request on ``switchboard.access``, off unless asked for."""

from __future__ import annotations

import logging

import pytest

REQUEST_ID = "access-log-test-0001"


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "switchboard.access"]


async def test_the_access_log_writes_one_line_per_request_with_its_request_id(
    app_client, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="switchboard.access")
    async with app_client(server={"access_log": True}) as client:
        r = await client.get("/api/messages?token=not-for-logs", headers={"X-Request-ID": REQUEST_ID})
        assert r.status_code == 401
    [line] = _lines(caplog)
    method, path, status, duration, unit, address, request_id = line.split(" ")
    assert (method, path, status, unit) == ("GET", "/api/messages", "401", "ms")
    assert float(duration) >= 0 and address == "127.0.0.1" and request_id == f"request_id={REQUEST_ID}"
    assert "not-for-logs" not in line


async def test_the_access_log_is_off_by_default(app_client, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="switchboard.access")
    async with app_client() as client:
        assert (await client.get("/api/messages")).status_code == 401
    assert _lines(caplog) == []
