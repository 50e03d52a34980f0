"""The ``ceemis`` destination: helpline cases and their updates, as CEEMIS's multipart forms, in order.

Ordering. An update goes out only once its case's create is delivered (CEEMIS's case id is
known) and every earlier update of the case is delivered or failed; until then its attempt
ends in a short, retryable "waiting". The core counts every attempt, waits included, against
``max_attempts`` (``core/deliveries.py``: the claim increments ``attempt_count``), so this
destination asks the core for a budget of real sends plus waits, counts real sends itself in
its tables, and gives every retry it asks for its own ``retry_after``: waits are short
(``wait_min`` doubling to ``wait_max``), real failures follow the ``[delivery]`` backoff by
real sends, not by attempts. Cases of different callers never wait on each other.

A requeue gives a fresh budget (the core starts ``delivery.attempt`` again at 1): the sends
and the wait are counted again from its first attempt, so a case that used up its sends in an
outage is sent again when an operator requeues it.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
import sqlalchemy as sa

from core import DeliveryError, DeliveryInfo, DeliveryResult, Destination, StandardMessage, raise_for_response
from plugins.ceemis import conversations, store
from plugins.ceemis.answers import case_id_of, field_errors
from plugins.ceemis.forms import case_form, update_form
from plugins.ceemis.payloads import CREATE, HELPLINE, UPDATE

if TYPE_CHECKING:
    import uuid

    from core import Gateway
    from plugins.ceemis.settings import CEEMISSettings, ConversationSettings

NAME = "ceemis"


class CEEMISDestination(Destination):
    """Creates go to ``create_url``, updates to ``update_url``; the CEEMIS id is the remote reference."""

    name = NAME

    def __init__(self, gateway: Gateway, settings: CEEMISSettings) -> None:
        self.gateway = gateway
        self.settings = settings
        self.sends = settings.max_attempts or gateway.settings.delivery.max_attempts
        self.max_attempts = self.sends + settings.wait_budget()
        self.concurrency = settings.concurrency
        self.field_map = settings.field_map()
        self.pattern = settings.case_id

    def retry_delay(self, attempt: int) -> float | None:
        """Every retry this destination asks for carries its own ``retry_after``; this floor only
        holds for a failure the core caught itself (an attempt that outlived its lease)."""
        return self.settings.wait_min

    def accepts(self, platform: str, kind: str | None = None) -> bool:
        """Helpline cases and their updates; and the messages of a platform with a
        ``[plugins.ceemis.conversations.<platform>]``, of its ``kinds``, never every kind (a
        platform's delivery statuses are no part of a case: a route lists the kinds it sends)."""
        if platform == HELPLINE:
            return kind in (None, CREATE, UPDATE)
        conversation = self.settings.conversations.get(platform)
        return conversations.takes_kind(conversation, kind)

    async def deliver(self, message: StandardMessage, delivery: DeliveryInfo) -> DeliveryResult:
        """Send a helpline case's create or update to CEEMIS (an update waits for its turn), or a
        conversation's message as its case's create or as an update of it."""
        conversation = self.settings.conversations.get(message.platform)
        if not store.is_helpline_case(message):
            if message.conversation_id is not None and conversations.takes(conversation, message):
                assert conversation is not None
                message = await self._turn(message, message.conversation_id, conversation, delivery)
            else:
                raise DeliveryError(
                    f"the ceemis destination sends helpline cases and the conversations of "
                    f"[plugins.ceemis.conversations] only (got {message.platform} {message.kind})",
                    retryable=False,
                )
        if message.kind == CREATE:
            return await self._create(message, delivery)
        return await self._update(message, delivery)

    async def _turn(
        self,
        message: StandardMessage,
        conversation_id: uuid.UUID,
        settings: ConversationSettings,
        delivery: DeliveryInfo,
    ) -> StandardMessage:
        """The case create or update a conversation's message is, as recorded in the order stored."""
        async with self.gateway.db.transaction() as conn:
            turn = await store.turn_of(conn, message, conversation_id, settings)
        if turn is not None:
            return turn
        if delivery.attempt <= 1 and not delivery.requeues:
            # The plugin records each stored message in order just after the commit
            # (switchboard_messages_stored); this attempt came first. Recording it here could put
            # it before an earlier message of its conversation that is not recorded yet.
            reason = "this message of a conversation is not recorded yet"
            raise DeliveryError(f"waiting: {reason}", retry_after=self.settings.wait_min, detail={"waiting": reason})
        async with self.gateway.db.transaction() as conn:
            return await store.record_turn(conn, message, conversation_id, settings)

    # -- creates and updates -------------------------------------------------------------

    async def _create(self, message: StandardMessage, delivery: DeliveryInfo) -> DeliveryResult:
        async with self.gateway.db.transaction() as conn:
            if delivery.attempt == 1 and delivery.requeues:  # a requeue's fresh budget: earlier sends are spent
                await store.restart_sends(conn, message)
            row = await store.row_of(conn, message)
        if row.ceemis_id:
            # CEEMIS made the case on an earlier attempt whose outcome the core did not record.
            await self._change(message, state="delivered", last_error=None)
            return DeliveryResult(remote_ref=row.ceemis_id, detail={"case_id": row.ceemis_id, "sent_before": True})
        url = self._url("create_url", message)
        form = case_form(message.raw or {}, self.field_map, self.settings.defaults)
        status, text = await self._send(message, delivery, url, form)
        case_id = case_id_of(text, self.pattern)
        if case_id is None:
            # CEEMIS took the form (2xx) but named no case: sending it again could make a second case.
            await self._fail(message, "CEEMIS accepted the case but its answer holds no case id")
            raise DeliveryError(
                "CEEMIS accepted the case but its answer holds no case id",
                retryable=False,
                status_code=status,
                detail={"response": text[:2000]},
            )
        await self._change(
            message, state="delivered", ceemis_id=case_id, last_error=None, delivered_at=datetime.now(UTC), form=form
        )
        return DeliveryResult(
            status_code=status, remote_ref=case_id, detail={"case_id": case_id, "response": text[:500]}
        )

    async def _update(self, message: StandardMessage, delivery: DeliveryInfo) -> DeliveryResult:
        ref = message.extra["ceemis"]["ref"]
        async with self.gateway.db.transaction() as conn:
            if delivery.attempt == 1 and delivery.requeues:  # a requeue's fresh budget: earlier sends are spent
                await store.restart_sends(conn, message)
            row = await store.row_of(conn, message)
            case = await store.find_case(conn, ref)
            blocker = await store.earlier_pending(conn, row, store.references(case, ref))
        if row.state == "delivered":
            # Sent on an earlier attempt whose outcome the core did not record.
            return DeliveryResult(remote_ref=case.ceemis_id if case else ref, detail={"sent_before": True})
        if case is None:
            if not self.pattern.fullmatch(ref):
                await self._wait(message, delivery, row, f"no case {ref!r} has been received")
            case_id = ref  # a CEEMIS id the helpline knows: CEEMIS has the case already
        elif case.state == "failed":
            reason = f"the case's create failed: {case.last_error or 'unknown error'}"
            await self._fail(message, reason)
            raise DeliveryError(reason, retryable=False)
        elif not case.ceemis_id:
            await self._wait(message, delivery, row, "the case's create is not delivered yet")
        else:
            case_id = case.ceemis_id
        if blocker is not None:
            await self._wait(message, delivery, row, f"an earlier update ({blocker.message_id}) is not delivered yet")
        url = self._url("update_url", message)
        form = update_form(
            message.raw or {},
            case_id,
            self.field_map,
            self.settings.defaults,
            case=case.form if case is not None else None,
            from_case=self.settings.update_from_case,
        )
        status, text = await self._send(message, delivery, url, form)
        async with self.gateway.db.transaction() as conn:
            await store.change(conn, message, state="delivered", last_error=None, delivered_at=datetime.now(UTC))
            if case is not None:
                # The next update of the case carries what this one changed (a new category, say). In
                # the same transaction: the next one may go out as soon as this one is delivered.
                await store.remember_form(conn, case.id, {k: v for k, v in form.items() if k != "caseid"})
        return DeliveryResult(
            status_code=status,
            remote_ref=case_id_of(text, self.pattern) or case_id,
            detail={"case_id": case_id, "response": text[:500]},
        )

    # -- one send --------------------------------------------------------------------------

    def _url(self, which: str, message: StandardMessage) -> str:
        url = getattr(self.settings, which)
        if url is None:
            raise DeliveryError(f"[plugins.ceemis] {which} is not configured", retryable=False)
        return str(url)

    def _headers(self, delivery: DeliveryInfo) -> dict[str, str]:
        headers = {"Accept": "application/json", "Idempotency-Key": delivery.idempotency_key}
        token = self.settings.token
        if token:
            if self.settings.token_header:
                headers[self.settings.token_header] = token
            else:
                headers["Authorization"] = f"Bearer {token}"
        return headers

    async def _send(
        self, message: StandardMessage, delivery: DeliveryInfo, url: str, form: dict[str, str]
    ) -> tuple[int, str]:
        async with self.gateway.db.transaction() as conn:
            sends = await store.start_send(conn, message, self.settings.timeout + 30)
        if sends is None:
            # Delivered meanwhile, or a second attempt of this delivery running at the same
            # time (delivery is at-least-once): one of them sends, never both.
            raise DeliveryError(
                "another attempt is sending this case now", retry_after=self.settings.wait_min, detail={"busy": True}
            )
        if sends > self.sends:
            reason = f"gave up after {sends - 1} sends to CEEMIS"
            await self._fail(message, reason)
            raise DeliveryError(reason, retryable=False)
        # httpx sends a multipart body when files are given; (None, value) is a plain form field.
        parts: list[tuple[str, tuple[None, str]]] = [(name, (None, value)) for name, value in form.items()]
        try:
            response = await self.gateway.http.post(
                url, files=parts, headers=self._headers(delivery), timeout=self.settings.timeout
            )
        except httpx.TimeoutException as err:
            await self._retry_or_give_up(
                message, delivery, sends, DeliveryError(f"CEEMIS timed out: {type(err).__name__}")
            )
        except httpx.TransportError as err:
            failure = DeliveryError(f"connection to CEEMIS failed: {type(err).__name__}: {err}")
            await self._retry_or_give_up(message, delivery, sends, failure)
        try:
            raise_for_response(response, what="CEEMIS")
        except DeliveryError as err:
            if not err.retryable:
                await self._refused(message, response, err)
            await self._retry_or_give_up(message, delivery, sends, err)
        return response.status_code, response.text

    async def _refused(self, message: StandardMessage, response: httpx.Response, err: DeliveryError) -> NoReturn:
        errors = field_errors(response.text)
        listed = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors)
        reason = f"CEEMIS refused the case (HTTP {response.status_code})" + (f": {listed}" if listed else "")
        await self._fail(message, reason)
        raise DeliveryError(
            reason,
            retryable=False,
            status_code=response.status_code,
            detail={**(err.detail or {}), "errors": errors},
        ) from err

    async def _retry_or_give_up(
        self, message: StandardMessage, delivery: DeliveryInfo, sends: int, err: DeliveryError
    ) -> NoReturn:
        if sends >= self.sends or delivery.attempt >= delivery.max_attempts:
            reason = f"{err} (gave up after {sends} sends)"
            await self._fail(message, reason)
            raise DeliveryError(reason, retryable=False, status_code=err.status_code, detail=err.detail) from err
        await self._change(message, state="retrying", last_error=str(err))
        delay = max(self._backoff(sends), err.retry_after or 0.0)
        raise DeliveryError(
            str(err), retryable=True, retry_after=delay, status_code=err.status_code, detail=err.detail
        ) from err

    def _backoff(self, sends: int) -> float:
        """The ``[delivery]`` schedule by real sends: base × factorⁿ⁻¹, capped, jittered."""
        d = self.gateway.settings.delivery
        base = min(d.backoff_base * d.backoff_factor ** (sends - 1), d.backoff_max)
        return max(self.settings.wait_min, base + random.uniform(-base * d.jitter, base * d.jitter))

    async def _wait(self, message: StandardMessage, delivery: DeliveryInfo, row: sa.Row[Any], reason: str) -> NoReturn:
        waited = (datetime.now(UTC) - (delivery.requeued_at or delivery.created_at)).total_seconds()
        if waited > self.settings.wait_timeout or delivery.attempt >= delivery.max_attempts:
            await self._fail(message, f"gave up waiting: {reason}")
            raise DeliveryError(f"gave up waiting: {reason}", retryable=False)
        waits = max(1, delivery.attempt - row.attempts)
        delay = min(self.settings.wait_min * 2 ** min(waits - 1, 30), self.settings.wait_max)
        await self._change(message, state="waiting", last_error=reason)
        raise DeliveryError(f"waiting: {reason}", retryable=True, retry_after=delay, detail={"waiting": reason})

    async def _fail(self, message: StandardMessage, reason: str) -> None:
        await self._change(message, state="failed", last_error=reason)

    async def _change(self, message: StandardMessage, **values: Any) -> None:
        async with self.gateway.db.transaction() as conn:
            await store.change(conn, message, **values)
