"""``POST /plugins/dhis2/aggregate`` and ``POST /plugins/dhis2/tracker``: direct submissions.

Each validates and maps the body, stores it as one message with one delivery to the
instance's destination, and answers 202 with their ids and exactly what will be sent.
An ``Idempotency-Key`` header makes a repeated request (a client retrying after a lost
answer) return the first submission instead of storing a second one.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import BadRequest, StandardMessage, Unprocessable, describe, read_json, requires
from plugins.dhis2.delivery.aggregate import chunks
from plugins.dhis2.mappings.routes import flag
from plugins.dhis2.mappings.store import org_units_for
from plugins.dhis2.settings import destination_name
from plugins.dhis2.submission import aggregate, tracker
from plugins.dhis2.submission.problems import InvalidSubmission

if TYPE_CHECKING:
    from plugins.dhis2.context import DHIS2Context

_VALUE: dict[str, Any] = {"type": ["number", "string", "boolean"]}
_NATIVE_VALUE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "dataElement": {"type": "string"},
        "categoryOptionCombo": {"type": "string"},
        "attributeOptionCombo": {"type": "string"},
        "period": {"type": "string"},
        "orgUnit": {"type": "string"},
        "value": _VALUE,
        "comment": {"type": "string"},
    },
    "required": ["dataElement", "value"],
}
# The two bodies POST /aggregate takes: dhis2gw's (codes → values) and a native dataValueSet.
AGGREGATE_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "dataSet": {"type": "string"},
        "period": {"type": "string"},
        "orgUnit": {"type": "string"},
        "completeDate": {"type": "string", "format": "date"},
        "attributeOptionCombo": {"type": "string"},
        "dataValues": {
            "oneOf": [
                {"type": "object", "additionalProperties": _VALUE},
                {"type": "array", "items": _NATIVE_VALUE},
            ]
        },
    },
    "required": ["dataValues"],
}
TRACKER_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        name: {"type": "array", "items": {"type": "object"}}
        for name in ("trackedEntities", "enrollments", "events", "relationships")
    },
}
_QUEUED: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message_id": {"type": "string"},
        "delivery_id": {"type": "string"},
        "destination": {"type": "string"},
        "instance": {"type": "string"},
        "status": {"type": "string"},
    },
    "required": ["message_id", "delivery_id", "destination", "instance", "status"],
}
_DUPLICATE: dict[str, Any] = {
    "type": "object",
    "properties": {"message_id": {"type": "string"}, "duplicate": {"type": "boolean"}},
    "required": ["message_id", "duplicate"],
}

_KEY = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def external_id(request: Request, kind: str) -> str:
    """The message's external id: from the caller's ``Idempotency-Key``, or a fresh one."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return f"{kind}:{uuid.uuid4().hex}"
    if not _KEY.match(key):
        raise BadRequest(
            "invalid Idempotency-Key",
            errors=[{"field": "Idempotency-Key", "message": "1 to 128 letters, digits or . _ : -"}],
        )
    principal = request.state.principal
    return f"{kind}:{principal.kind}:{principal.id}:{key}"


class SubmissionEndpoints:
    def __init__(self, context: DHIS2Context) -> None:
        self.context = context

    def routes(self) -> list[Route]:
        return [
            Route("/aggregate", self.aggregate, methods=["POST"]),
            Route("/tracker", self.tracker, methods=["POST"]),
        ]

    @requires("dhis2.submit", scopes=["dhis2:aggregate"])
    @describe(body=AGGREGATE_BODY, status=202, responses={202: _QUEUED, 200: _DUPLICATE})
    async def aggregate(self, request: Request) -> Response:
        """Submit aggregate data: a dhis2gw body (codes) or a native dataValueSet. Answers 202.

        ``?instance=`` chooses the DHIS2 instance (default: ``default_instance``). Codes are
        mapped with the data-value mappings; unmapped codes are refused or skipped as
        ``[plugins.dhis2] unmapped`` says. The answer holds the exact dataValueSet to be sent.
        """
        settings = self.context.settings
        instance = self.context.instance_for(request.query_params.get("instance"))
        body = await read_json(request)
        gateway = self.context.gateway
        try:
            async with gateway.db.transaction() as conn:
                prepared = await aggregate.prepare(
                    conn,
                    body,
                    instance_name=instance,
                    instance=settings.instances[instance],
                    unmapped=settings.unmapped,
                )
        except InvalidSubmission as err:
            raise Unprocessable(str(err), errors=err.errors) from err
        message = StandardMessage(
            platform="dhis2",
            external_id=external_id(request, "aggregate"),
            kind="data",
            raw=prepared.data_value_set,
            extra={
                "dhis2": "aggregate",
                "instance": instance,
                "format": prepared.format,
                "codes": prepared.codes,
                "unmapped": prepared.unmapped,
                # The body as submitted (JSON text: JSONB would reorder its codes), mapped again at each attempt.
                "submission": json.dumps(body),
                "unmapped_policy": settings.unmapped,
                "mapping_scheme": settings.instances[instance].mapping_scheme,
                "submitted_by": request.state.principal.label,
            },
        )
        return await self._store(
            message,
            instance,
            {"dhis2": "aggregate"},
            {
                "values": prepared.size,
                "chunks": len(chunks(prepared.data_value_set, settings.chunk_size)),
                "unmapped": prepared.unmapped,
                "dataValueSet": prepared.data_value_set,
            },
        )

    @requires("dhis2.submit", scopes=["dhis2:tracker"])
    @describe(body=TRACKER_BODY, status=202, responses={202: _QUEUED, 200: _DUPLICATE})
    async def tracker(self, request: Request) -> Response:
        """Submit a tracker import payload (nested or flat) for ``/api/tracker``. Answers 202.

        ``?async=true|false`` overrides the instance's ``tracker.async_import``. Objects
        without a uid are given one (returned in the answer), so a retry never duplicates.
        """
        settings = self.context.settings
        instance = self.context.instance_for(request.query_params.get("instance"))
        instance_settings = settings.instances[instance]
        async_import = (
            flag(request, "async") if "async" in request.query_params else instance_settings.tracker.async_import
        )
        body = await read_json(request)
        key = external_id(request, "tracker")
        gateway = self.context.gateway
        try:
            codes = tracker.org_unit_codes(body)
            org_units: dict[str, str] = {}
            if codes:
                async with gateway.db.transaction() as conn:
                    org_units = await org_units_for(conn, codes, instance)
            checked = tracker.check(
                body, seed=key, org_units=org_units, metadata_by_uid=instance_settings.id_scheme in (None, "UID")
            )
        except InvalidSubmission as err:
            raise Unprocessable(str(err), errors=err.errors) from err
        message = StandardMessage(
            platform="dhis2",
            external_id=key,
            kind="data",
            raw=checked.payload,
            extra={
                "dhis2": "tracker",
                "instance": instance,
                "counts": checked.counts,
                "submitted_by": request.state.principal.label,
            },
        )
        return await self._store(
            message,
            instance,
            {"dhis2": "tracker", "async": async_import},
            {
                "async": async_import,
                "nested": checked.nested,
                "counts": checked.counts,
                "uids_assigned": checked.assigned,
                "payload": checked.payload,
            },
        )

    async def _store(
        self, message: StandardMessage, instance: str, options: dict[str, Any], extra: dict[str, Any]
    ) -> JSONResponse:
        destination = destination_name(instance)
        [stored] = await self.context.gateway.submit([message], destinations=[destination], options=options)
        if stored.duplicate:
            # The same Idempotency-Key was used before: that submission stands, nothing new is sent.
            return JSONResponse({"message_id": str(stored.message_id), "duplicate": True}, status_code=200)
        return JSONResponse(
            {
                "message_id": str(stored.message_id),
                "delivery_id": str(stored.delivery_ids[0]),
                "destination": destination,
                "instance": instance,
                "status": "queued",
                **extra,
            },
            status_code=202,
        )
