"""Fixtures of the console's tests: an app with the example plugin and a receiver, users who log in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.auth.users import create_user
from core.pipeline import job_runs
from core.storage.db import Database
from core.testing import GatewayClient, settle
from tests.conftest import Stack
from tests.support.echo import item, post_echo
from tests.support.receiver import Receiver, running_receiver
from tests.support.serving import serving

PASSWORD = "correct horse battery staple 42"
XSS = "<script>alert(1)</script>"


@pytest.fixture
async def rollup_off(clean_stack: Stack) -> None:
    """The dashboard rollup job is off before the app starts (a job that never ran runs at its start)."""
    db = Database(clean_stack.settings().database)
    try:
        await job_runs.set_enabled(db, "dashboard_rollup", False, by="test")
    finally:
        await db.close()


@pytest.fixture
async def site(gw: GatewayClient) -> AsyncIterator[str]:
    """The console's app served on loopback for the browser; its base URL."""
    async with serving(gw.app) as url:
        yield url


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as r:
        yield r


@pytest.fixture
async def gw(example_installed: None, app_client: Any, receiver: Receiver) -> AsyncIterator[GatewayClient]:
    async with app_client(
        routes=[{"source": "echo", "destinations": ["crm"]}],
        plugins={"http": {"destinations": {"crm": {"url": receiver.url}}}},
        delivery={"max_attempts": 1, "backoff_base": 0.05, "backoff_max": 0.1, "jitter": 0},
    ) as client:
        for role in ("viewer", "operator", "admin"):
            await create_user(client.gateway, role, PASSWORD, role)
        yield client


async def dead_delivery(gw: GatewayClient, receiver: Receiver, text: str = "hello") -> str:
    """A message whose one delivery died (the receiver failed it); its delivery id."""
    receiver.fail_with(500)
    await post_echo(gw, item("dead-1", text=text))
    await settle(gw.gateway)
    r = await gw.get("/api/deliveries", headers=await bearer(gw, "operator"))
    (delivery,) = r.json()["items"]
    assert delivery["status"] == "dead"
    return str(delivery["id"])


async def bearer(gw: GatewayClient, role: str) -> dict[str, str]:
    r = await gw.post("/api/auth/token", json={"username": role, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def csrf_in(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def log_in(gw: GatewayClient, role: str, password: str = PASSWORD) -> str:
    """Log in through the form as ``role``; returns the session's CSRF token (the cookie stays in ``gw``)."""
    gw.cookies.clear()
    page = await gw.get("/admin/login")
    r = await gw.post(
        "/admin/login", data={"username": role, "password": password, "csrf_token": csrf_in(page.text), "next": "/admin/"}
    )
    assert r.status_code == 303, r.text
    return csrf_in((await gw.get("/admin/")).text)
