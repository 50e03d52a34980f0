"""Every kind of message the WhatsApp adapter stores opens on its page and in its conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.auth.users import create_user
from core.testing import GatewayClient, stored_messages
from tests.console.conftest import PASSWORD, log_in
from tests.fakes.graph_api import FakeGraph, running_graph
from tests.whatsapp.support import PAYLOADS, payload, post_webhook
from tests.whatsapp.test_whatsapp_inbound import CASES

# Every message payload of the WhatsApp fixtures (statuses and batches are not one message).
KINDS = sorted(p.stem for p in PAYLOADS.glob("*.json") if not p.stem.startswith("status_") and p.stem != "batch")


@pytest.fixture
async def whatsapp_gw(app_client: Any) -> AsyncIterator[GatewayClient]:
    from tests.whatsapp.conftest import whatsapp_settings

    graph: FakeGraph
    async with running_graph() as graph, app_client(plugins={"whatsapp": whatsapp_settings(graph)}) as client:
        for role in ("viewer", "operator"):
            await create_user(client.gateway, role, PASSWORD, role)
        yield client


def test_the_fixtures_cover_every_case_of_the_adapter_tests() -> None:
    assert set(CASES) <= set(KINDS)


@pytest.mark.parametrize("name", KINDS)
async def test_a_whatsapp_message_of_each_kind_opens_with_its_conversation(
    name: str, whatsapp_gw: GatewayClient
) -> None:
    answer = await post_webhook(whatsapp_gw, payload(name))
    assert answer.status_code == 200, answer.text
    await log_in(whatsapp_gw, "viewer")
    [row] = await stored_messages(whatsapp_gw.gateway)
    page = await whatsapp_gw.get(f"/admin/messages/{row.id}")
    assert page.status_code == 200, page.text
    assert f"{row.kind} message" in page.text
    transcript = await whatsapp_gw.get(f"/admin/conversations/{row.conversation_id}")
    assert transcript.status_code == 200, transcript.text
    assert f"/admin/messages/{row.id}" in transcript.text
    listing = await whatsapp_gw.get("/admin/messages")
    assert listing.status_code == 200 and f"/admin/messages/{row.id}" in listing.text
