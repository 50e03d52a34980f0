"""Routed messages as DHIS2 data: ``[plugins.dhis2.templates.<name>]`` render a message into JSON.

A template is a sandboxed Jinja text producing a dataValueSet (native, or the dhis2gw
shape with codes, mapped like a direct submission) or a tracker payload. Besides
``message`` (the standard message as a dict) and ``delivery`` (``id``,
``idempotency_key``), it has the filters ``tojson``, ``dhis2_period(type)`` (the period
holding a date) and ``dhis2_uid`` (a uid derived from a text, the same on every attempt)::

    {"events": [{"program": "eBAyeGv0exc", "programStage": "Zj7UnCAulEk",
                 "event": {{ message.id | dhis2_uid | tojson }},
                 "orgUnit": {{ message.extra.facility | tojson }},
                 "occurredAt": {{ message.timestamp[:10] | tojson }},
                 "dataValues": [{"dataElement": "qrur9Dvnyt5", "value": {{ message.extra.weight | tojson }}}]}]}
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from core import DeliveryError, DeliveryInfo, StandardMessage
from plugins.dhis2.settings import TemplateSettings
from plugins.dhis2.submission.periods import period_of
from plugins.dhis2.uids import uid_from


def _period(value: Any, type_name: str) -> str:
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        day = datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
    return period_of(day, type_name)


def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.filters["tojson"] = lambda value: json.dumps(value, default=str)
    env.filters["dhis2_period"] = _period
    env.filters["dhis2_uid"] = lambda value: uid_from(str(value))
    return env


class MessageTemplate:
    """One configured template, compiled once."""

    def __init__(self, name: str, settings: TemplateSettings) -> None:
        self.name = name
        self.settings = settings
        self._template: Template = environment().from_string(settings.body)

    def matches(self, message: StandardMessage) -> bool:
        kinds = self.settings.kinds
        return message.platform == self.settings.source and (kinds is None or message.kind in kinds)

    def render(self, message: StandardMessage, delivery: DeliveryInfo) -> Any:
        """The JSON the template makes of ``message``; a message it cannot render is a permanent failure."""
        context = {
            "message": message.to_dict(),
            "delivery": {"id": str(delivery.id), "idempotency_key": delivery.idempotency_key},
        }
        try:
            text = self._template.render(**context)
        except Exception as err:  # a template that cannot render this message never will
            raise DeliveryError(
                f"template {self.name!r} cannot render this message: {type(err).__name__}: {err}", retryable=False
            ) from err
        try:
            return json.loads(text)
        except ValueError as err:
            raise DeliveryError(
                f"template {self.name!r} did not produce JSON: {err}",
                retryable=False,
                detail={"template": self.name, "rendered": text[:2000]},
            ) from err
