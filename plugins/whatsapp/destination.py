"""The destination ``whatsapp``: outbound messages through Graph's messages endpoint.

Graph has no idempotency key, so a send whose answer was lost would be sent twice on retry.
To narrow that window every send carries ``biz_opaque_callback_data = "sb:<idempotency
key>"`` (unless the message sets its own), which Meta echoes in the message's statuses: a
retry that finds a status with its tag knows the first attempt got through.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from core import DeliveryError, DeliveryInfo, DeliveryResult, Destination, StandardMessage, mask_phone
from plugins.whatsapp import optout, statuses
from plugins.whatsapp.graph import delivery_error
from plugins.whatsapp.outbound import InvalidSend, graph_body, send_spec

if TYPE_CHECKING:
    from core import Gateway
    from plugins.whatsapp.settings import WhatsAppSettings

log = logging.getLogger("switchboard.whatsapp")
NAME = "whatsapp"
# Delivery option set on the plugin's own opt-out/opt-in confirmations: they go to a
# contact who has just opted out, so the opt-out check must let them through.
NOTICE_OPTION = "whatsapp_notice"


class WhatsAppDestination(Destination):
    """Sends text, templates, media, interactive messages, reactions and read receipts."""

    name = NAME

    def __init__(self, gateway: Gateway, settings: WhatsAppSettings) -> None:
        self.gateway = gateway
        self.settings = settings
        self.max_attempts = settings.max_attempts
        self.concurrency = settings.concurrency

    async def deliver(self, message: StandardMessage, delivery: DeliveryInfo) -> DeliveryResult:
        """POST the message to Graph; the answer's ``wamid`` becomes the delivery's ``remote_ref``."""
        try:
            spec = send_spec(message)
            body = graph_body(message, spec)
        except InvalidSend as err:
            raise DeliveryError(f"cannot be sent: {err}", retryable=False) from err
        settings = self.settings
        number = spec.phone_number_id or settings.phone_number_id
        if not settings.access_token or not number:
            raise DeliveryError("[plugins.whatsapp] access_token and phone_number_id must be set", retryable=False)
        if spec.type == "read":
            return await self._mark_read(number, body)

        assert message.recipient is not None  # graph_body checked it
        if not delivery.options.get(NOTICE_OPTION):
            await self._refuse_if_opted_out(message.recipient)
        tag = body.get("biz_opaque_callback_data")
        if tag is None:
            tag = body["biz_opaque_callback_data"] = f"sb:{delivery.idempotency_key}"
        # Any attempt but a delivery's very first may follow one that got through unseen (a
        # requeue's attempt 1 too: the attempt number starts again with each budget).
        if (delivery.attempt > 1 or delivery.requeues) and tag.startswith("sb:"):
            recovered = await self._sent_already(tag, message, delivery, number)
            if recovered is not None:
                return recovered

        response = await self._post(number, body)
        if not response.is_success:
            raise delivery_error(response)
        wamid, accepted_as = _accepted(response)
        if wamid is None:
            log.warning("Graph accepted a message to %s without a message id", mask_phone(message.recipient))
            return DeliveryResult(response.status_code, None, {"warning": "Graph answered without a message id"})
        await self._track(wamid, message, delivery, number, tag)
        log.info("WhatsApp %s to %s accepted as %s", spec.type, mask_phone(message.recipient), wamid)
        return DeliveryResult(response.status_code, wamid, {"wamid": wamid, "message_status": accepted_as})

    async def _post(self, number: str, body: dict[str, Any]) -> httpx.Response:
        timeout = self.settings.timeout
        return await self.gateway.http.post(
            self.settings.messages_url(number),
            json=body,
            headers={"Authorization": f"Bearer {self.settings.access_token}"},
            timeout=httpx.Timeout(timeout) if timeout else httpx.USE_CLIENT_DEFAULT,
        )

    async def _mark_read(self, number: str, body: dict[str, Any]) -> DeliveryResult:
        response = await self._post(number, body)
        if not response.is_success:
            raise delivery_error(response)
        return DeliveryResult(response.status_code, None, {"read": body["message_id"]})

    async def _refuse_if_opted_out(self, wa_id: str) -> None:
        async with self.gateway.db.transaction() as conn:
            state = await optout.opted_out(conn, self.gateway.privacy, wa_id)
        if state is not None:
            when = state.opted_out_at.isoformat() if state.opted_out_at else "an unknown time"
            raise DeliveryError(
                f"not sent: the contact opted out at {when} (keyword {state.keyword!r})",
                retryable=False,
                detail={"opted_out": True, "opted_out_at": when, "keyword": state.keyword},
            )

    async def _sent_already(
        self, tag: str, message: StandardMessage, delivery: DeliveryInfo, number: str
    ) -> DeliveryResult | None:
        async with self.gateway.db.transaction() as conn:
            wamid = await statuses.wamid_for_callback(conn, tag)
        if wamid is None:
            return None
        await self._track(wamid, message, delivery, number, tag)
        log.info("WhatsApp delivery %s: a status shows attempt 1 got through as %s; not sent again", delivery.id, wamid)
        return DeliveryResult(None, wamid, {"wamid": wamid, "recovered": "an earlier attempt's status arrived"})

    async def _track(self, wamid: str, message: StandardMessage, delivery: DeliveryInfo, number: str, tag: str) -> None:
        async with self.gateway.db.transaction() as conn:
            await statuses.upsert(
                conn,
                wamid,
                "accepted",
                datetime.now(UTC),
                message_id=message.id,
                delivery_id=delivery.id,
                recipient=message.recipient,
                phone_number_id=number,
                callback_data=tag,
            )


def _accepted(response: httpx.Response) -> tuple[str | None, str | None]:
    """``messages[0].id`` (the wamid) and ``message_status`` of a successful send."""
    try:
        data: Any = response.json()
        first = data["messages"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return None, None
    if not isinstance(first, dict):
        return None, None
    wamid = first.get("id")
    status = first.get("message_status")
    return (wamid if isinstance(wamid, str) and wamid else None), (status if isinstance(status, str) else None)
