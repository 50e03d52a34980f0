"""Ticking deliveries in the list and requeueing or cancelling them (core.operations.repair, one by one, audited)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from core.storage.models import deliveries
from core.testing import GatewayClient, settle
from tests.console.conftest import dead_delivery, log_in
from tests.support.receiver import Receiver


async def test_the_list_has_a_box_per_row_for_operators_only(gw: GatewayClient, receiver: Receiver) -> None:
    delivery_id = await dead_delivery(gw, receiver)
    await log_in(gw, "operator")
    assert f'name="id" value="{delivery_id}" form="selected"' in (await gw.get("/admin/deliveries")).text
    await log_in(gw, "viewer")
    assert 'form="selected"' not in (await gw.get("/admin/deliveries")).text


async def test_requeueing_the_ticked_ones_counts_those_that_could_not_be(gw: GatewayClient, receiver: Receiver) -> None:
    delivery_id = await dead_delivery(gw, receiver)
    receiver.heal()
    token = await log_in(gw, "operator")
    data = {"csrf_token": token, "action": "requeue", "id": [delivery_id, str(uuid.uuid4())], "back": "status=dead"}
    r = await gw.post("/admin/deliveries/selected", data=data)
    assert r.status_code == 303 and r.headers["location"] == "/admin/deliveries?status=dead"
    page = await gw.get(r.headers["location"])
    assert "Requeued 1 delivery. 1 could not be" in page.text
    await settle(gw.gateway)
    async with gw.gateway.db.transaction() as conn:
        status = (await conn.execute(sa.select(deliveries.c.status).where(deliveries.c.id == uuid.UUID(delivery_id)))).scalar_one()
    assert status == "delivered"


async def test_nothing_ticked_is_refused(gw: GatewayClient) -> None:
    token = await log_in(gw, "operator")
    r = await gw.post("/admin/deliveries/selected", data={"csrf_token": token, "action": "cancel"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
