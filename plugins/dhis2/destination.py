"""One delivery destination per DHIS2 instance: ``dhis2:<instance>``.

Direct submissions say what they carry in the delivery's options (``{"dhis2":
"aggregate"}`` with the dataValueSet in ``message.raw``, or ``{"dhis2": "tracker"}``).
Any other message was routed here by ``[[routes]]`` and is rendered by the instance's
template for its platform and kind. One destination per instance lets the core hold the
instance's ``max_concurrent_requests`` across every worker process.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from core import DeliveryError, DeliveryInfo, DeliveryResult, Destination, StandardMessage
from plugins.dhis2.client import DHIS2Client
from plugins.dhis2.delivery.aggregate import send_data_value_set
from plugins.dhis2.delivery.tracker import send_tracker
from plugins.dhis2.mappings.store import org_units_for
from plugins.dhis2.settings import destination_name
from plugins.dhis2.submission import aggregate, tracker
from plugins.dhis2.submission.problems import InvalidSubmission
from plugins.dhis2.submission.templates import MessageTemplate

if TYPE_CHECKING:
    from core import Gateway
    from plugins.dhis2.settings import DHIS2Settings


class DHIS2Destination(Destination):
    def __init__(self, instance: str, settings: DHIS2Settings, gateway: Gateway) -> None:
        self.name = destination_name(instance)
        self.instance = instance
        self.settings = settings
        self.gateway = gateway
        self.instance_settings = settings.instances[instance]
        self.client = DHIS2Client(instance, self.instance_settings, gateway)
        self.concurrency = self.instance_settings.max_concurrent_requests
        self.max_attempts = self.instance_settings.max_attempts
        self.templates = [
            MessageTemplate(name, t)
            for name, t in settings.templates.items()
            if settings.template_instance(t) == instance
        ]

    @property
    def budget(self) -> float:
        """Seconds an attempt may spend before it leaves the rest to the next one (within its lease)."""
        return self.gateway.settings.queue.job_timeout * 0.6

    async def deliver(self, message: StandardMessage, delivery: DeliveryInfo) -> DeliveryResult:
        kind = delivery.options.get("dhis2")
        if kind == "aggregate" and isinstance(message.extra.get("submission"), str):
            # Mapped now, with the mappings as they are: fixing a mapping and requeueing works.
            scope = message.extra.get("mapping_scope")  # dhis2gw's API maps with its own rows only
            return await self._send_aggregate(
                json.loads(message.extra["submission"]),
                delivery,
                str(message.extra.get("unmapped_policy") or "skip"),
                mapping_scheme=message.extra.get("mapping_scheme"),
                mapping_scope=(str(scope[0]), str(scope[1])) if isinstance(scope, list) and len(scope) == 2 else None,
            )
        if kind == "aggregate":
            # Stored before submissions kept their body: sent as resolved when submitted.
            return await send_data_value_set(
                self.client,
                message.raw,
                delivery,
                codes=list(message.extra.get("codes") or []),
                chunk_size=self.settings.chunk_size,
                budget=self.budget,
            )
        if kind == "tracker":
            return await send_tracker(
                self.client,
                message.raw,
                delivery,
                settings=self.instance_settings.tracker,
                async_import=bool(delivery.options.get("async", self.instance_settings.tracker.async_import)),
                budget=self.budget,
            )
        return await self._deliver_routed(message, delivery)

    def accepts(self, platform: str, kind: str | None = None) -> bool:
        """Routed messages of a platform (of a kind; ``None``: of every kind) that one of the
        instance's templates turns into DHIS2 data: any other could only make a dead delivery."""
        return any(
            t.settings.source == platform and (t.settings.kinds is None or kind in t.settings.kinds)
            for t in self.templates
        )

    def template_for(self, message: StandardMessage) -> MessageTemplate | None:
        return next((t for t in self.templates if t.matches(message)), None)

    async def _deliver_routed(self, message: StandardMessage, delivery: DeliveryInfo) -> DeliveryResult:
        template = self.template_for(message)
        if template is None:
            raise DeliveryError(
                f"no [plugins.dhis2.templates] entry for instance {self.instance!r} turns "
                f"{message.platform!r} {message.kind!r} messages into DHIS2 data",
                retryable=False,
            )
        payload = template.render(message, delivery)
        if template.settings.type == "aggregate":
            return await self._send_aggregate(payload, delivery, self.settings.unmapped, template=template.name)
        try:
            async with self.gateway.db.transaction() as conn:
                codes = tracker.org_unit_codes(payload)
                org_units = await org_units_for(conn, codes, self.instance) if codes else {}
            checked = tracker.check(
                payload,
                seed=f"{message.platform}:{message.external_id}:{template.name}",
                org_units=org_units,
                metadata_by_uid=self.instance_settings.id_scheme in (None, "UID"),
            )
        except InvalidSubmission as err:
            raise DeliveryError(
                f"template {template.name!r} made invalid DHIS2 data: {err}",
                retryable=False,
                detail={"template": template.name, "errors": err.errors, "rendered": _short(payload)},
            ) from err
        return await send_tracker(
            self.client,
            checked.payload,
            delivery,
            settings=self.instance_settings.tracker,
            async_import=self.instance_settings.tracker.async_import,
            budget=self.budget,
        )


    async def _send_aggregate(
        self,
        submission: Any,
        delivery: DeliveryInfo,
        unmapped: str,
        *,
        template: str | None = None,
        mapping_scheme: str | None = None,
        mapping_scope: tuple[str, str] | None = None,
    ) -> DeliveryResult:
        """Map ``submission`` with the mappings as they are now and send it; the detail records what went."""
        try:
            async with self.gateway.db.transaction() as conn:
                prepared = await aggregate.prepare(
                    conn,
                    submission,
                    instance_name=self.instance,
                    instance=self.instance_settings,
                    unmapped=unmapped,
                    mapping_scheme=mapping_scheme,
                    mapping_scope=mapping_scope,
                )
        except InvalidSubmission as err:
            what = f"template {template!r} made invalid DHIS2 data" if template else "the submission cannot be sent"
            detail: dict[str, Any] = {"type": "aggregate", "instance": self.instance, "errors": err.errors}
            if template:
                detail.update(template=template, rendered=_short(submission))
            raise DeliveryError(f"{what}: {err}", retryable=False, detail=detail) from err
        result = await send_data_value_set(
            self.client,
            prepared.data_value_set,
            delivery,
            codes=prepared.codes,
            chunk_size=self.settings.chunk_size,
            budget=self.budget,
        )
        if prepared.unmapped and result.detail is not None:
            result.detail["skipped_unmapped"] = prepared.unmapped
        return result


def _short(payload: Any) -> Any:
    text = json.dumps(payload, default=str)
    return payload if len(text) <= 4000 else text[:4000]
