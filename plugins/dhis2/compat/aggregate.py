"""dhis2gw's ``POST /aggregate`` and its re-enqueue routes, on Switchboard's durable pipeline.

A request is checked against dhis2gw's JSON schema (its 400 texts), mapped with the
data-value mappings (by code, or by data element under ``mapping_scheme = "uid"``; keys without
one are left out, as dhis2gw leaves them), stored as one message with one delivery to the
default instance, and answered with dhis2gw's fields: ``submission_id`` is the compat row's
integer id, ``task_id`` the delivery id.

Nothing is dropped silently: the log's ``errors`` names every key left out, and a request of
which no key maps is still stored with its delivery, which fails on its attempt naming the keys
(the log says ``failed``; after a mapping is added, a re-enqueue sends it).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import BadRequest, Conflict, NotFound, StandardMessage, gateway_of, parse_json, requeue_delivery, requires
from plugins.dhis2.compat.answers import error
from plugins.dhis2.models import dhis2gw_submissions
from plugins.dhis2.settings import destination_name
from plugins.dhis2.submission import aggregate
from plugins.dhis2.submission.problems import InvalidSubmission, NothingMapped

if TYPE_CHECKING:
    from plugins.dhis2.context import DHIS2Context

_UID = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")
_PERIOD = re.compile(
    r"^(?:\d{4}|\d{6}|\d{8}|\d{4}Q[1-4]|\d{4}S[1-2]|\d{4}W([1-9]|0[1-9]|[1-4][0-9]|5[0-3])"
    r"|\d{4}BiW([1-9]|0[1-9]|[1-2][0-9]))$"
)
_REQUIRED = ("orgUnit", "period", "dataSet", "dataValues")
TASK_TYPE = "aggregate:send"
QUEUE = "dhis2gw:default"
NOTHING_MAPPED = "Payload validation errors:\n - dataValues: Array must have at least 1 items\n"
# dhis2gw maps with the rows whose instance_name and source_name are both "default", and no other.
MAPPING_SCOPE = ("default", "default")


def _json_type(value: Any) -> str:
    """gojsonschema's name of a JSON value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names.get(type(value), "object")


def schema_errors(body: dict[str, Any]) -> list[str]:
    """dhis2gw's simplified aggregate request schema, with gojsonschema's messages."""
    problems = [f"(root): {name} is required" for name in _REQUIRED if name not in body]
    strings = {"orgUnit": _UID, "orgUnitName": None, "period": _PERIOD, "dataSet": _UID}
    for name, pattern in strings.items():
        if name not in body:
            continue
        value = body[name]
        if not isinstance(value, str):
            problems.append(f"{name}: Invalid type. Expected: string, given: {_json_type(value)}")
            continue
        if name == "orgUnit" and len(value) != 11:
            relation = "greater" if len(value) < 11 else "less"
            problems.append(f"{name}: String length must be {relation} than or equal to 11")
        if name == "period" and len(value) < 4:
            problems.append(f"{name}: String length must be greater than or equal to 4")
        if pattern is not None and not pattern.match(value):
            problems.append(f"{name}: Does not match pattern '{pattern.pattern}'")
    if "dataValues" in body and not isinstance(body["dataValues"], dict):
        problems.append(f"dataValues: Invalid type. Expected: object, given: {_json_type(body['dataValues'])}")
    return problems


def _left_out(unmapped: list[dict[str, Any]]) -> str:
    """The log's ``errors`` for keys without a mapping, one line each (dhis2gw's list format)."""
    return "Unmapped values left out:\n" + "".join(f" - dataValues.{m['code']}: {m['message']}\n" for m in unmapped)


def _request_record(body: dict[str, Any]) -> dict[str, Any]:
    """The request as dhis2gw logs it (``orgUnitName`` left out when empty)."""
    record: dict[str, Any] = {
        k: body[k] for k in ("orgUnit", "orgUnitName", "period", "dataSet", "dataValues") if k in body
    }
    if not record.get("orgUnitName"):
        record.pop("orgUnitName", None)
    return record


class AggregateEndpoints:
    def __init__(self, context: DHIS2Context) -> None:
        self.context = context

    def routes(self, prefix: str) -> list[Route]:
        return [
            Route(f"{prefix}/aggregate", self.submit, methods=["POST"]),
            Route(f"{prefix}/aggregate/reenqueue/batch", self.reenqueue_batch, methods=["POST"]),
            Route(f"{prefix}/aggregate/reenqueue/{{task_id}}", self.reenqueue, methods=["GET", "POST"]),
        ]

    @requires("dhis2.submit", scopes=["dhis2:aggregate"], basic=True)
    async def submit(self, request: Request) -> Response:
        """dhis2gw's ``POST /aggregate``: 200 with the dataValueSet to be sent and its ids."""
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as err:
            return error(f"Invalid JSON: {err}", 400)
        if not isinstance(body, dict):
            return error(f"Invalid JSON: cannot unmarshal {_json_type(body)} into an object", 400)
        problems = schema_errors(body)
        if problems:
            return error("Request does not match required schema", 400, detail=problems)
        settings = self.context.settings
        instance = self.context.instance_for(None)
        today = datetime.now().astimezone().date().isoformat()  # dhis2gw: the host's local date
        submission = {
            "orgUnit": body["orgUnit"],
            "period": body["period"],
            "dataSet": body["dataSet"],
            "completeDate": today,
            "dataValues": body["dataValues"],
        }
        gateway = self.context.gateway
        record = _request_record(body)
        scheme = settings.compat.mapping_scheme or settings.instances[instance].mapping_scheme
        try:
            async with gateway.db.transaction() as conn:
                prepared = await aggregate.prepare(
                    conn,
                    submission,
                    instance_name=instance,
                    instance=settings.instances[instance],
                    unmapped="skip",
                    mapping_scheme=scheme,
                    mapping_scope=MAPPING_SCOPE,
                )
            data_value_set, codes, unmapped = prepared.data_value_set, prepared.codes, prepared.unmapped
            errors = _left_out(unmapped) if unmapped else None
        except NothingMapped as err:
            # dhis2gw answers 200 with no values; the submission is kept and its delivery fails visibly.
            data_value_set = {"dataSet": body["dataSet"], "completeDate": today, "period": body["period"],
                              "orgUnit": body["orgUnit"], "dataValues": []}  # fmt: skip
            codes, unmapped = [], [{"code": e["code"], "message": e["message"]} for e in err.errors]
            errors = NOTHING_MAPPED + _left_out(unmapped)
        except InvalidSubmission as err:
            detail = [f"{e.get('field', '(root)')}: {e.get('message', '')}" for e in err.errors]
            return error("Request does not match required schema", 400, detail=detail)
        message = StandardMessage(
            platform="dhis2",
            external_id=f"aggregate:{uuid.uuid4().hex}",
            kind="data",
            raw=data_value_set,
            extra={
                "dhis2": "aggregate",
                "instance": instance,
                "format": "dhis2gw",
                "codes": codes,
                "unmapped": unmapped,
                # Each attempt maps this again with the mappings as they are then (left out if unmapped).
                "submission": json.dumps(submission),  # text: JSONB would reorder the codes
                "unmapped_policy": "skip",
                "mapping_scheme": scheme,
                "mapping_scope": list(MAPPING_SCOPE),
                "submitted_by": request.state.principal.label,
                "dhis2gw_request": record,
            },
        )
        options = {"dhis2": "aggregate", "unmapped": [m["code"] for m in unmapped]}
        [stored] = await gateway.submit([message], destinations=[destination_name(instance)], options=options)
        delivery_id = stored.delivery_ids[0]
        async with gateway.db.transaction() as conn:
            row_id = await self._record(conn, record, stored.message_id, delivery_id, errors)
        return self._answer(data_value_set, row_id, delivery_id)

    @staticmethod
    async def _record(
        conn: Any,
        record: dict[str, Any],
        message_id: uuid.UUID | None,
        delivery_id: uuid.UUID | None,
        errors: str | None,
    ) -> int:
        result = await conn.execute(
            dhis2gw_submissions.insert()
            .values(
                message_id=message_id,
                delivery_id=delivery_id,
                request=record,
                errors=errors,
                submitted_at=datetime.now(UTC),
            )
            .returning(dhis2gw_submissions.c.id)
        )
        return int(result.scalar_one())

    @staticmethod
    def _answer(payload: dict[str, Any], row_id: int, delivery_id: uuid.UUID | None) -> JSONResponse:
        return JSONResponse(
            {
                "message": "Aggregate request queued for processing",
                "payload": payload,
                "submission_id": row_id,
                "task_id": str(delivery_id) if delivery_id else "",
            }
        )

    async def _requeue(self, request: Request, task_id: str) -> str | None:
        """Requeue one delivery by its task id; ``None`` when done, else dhis2gw's error text."""
        try:
            delivery_id = uuid.UUID(task_id)
            await requeue_delivery(gateway_of(request), delivery_id, request.state.principal)
        except (ValueError, NotFound):
            return "not found"
        except Conflict:
            return "asynq: task not found"  # dhis2gw's answer for a task that already ran
        return None

    @requires("deliveries.repair", scopes=["dhis2:aggregate"], basic=True)
    async def reenqueue(self, request: Request) -> Response:
        """dhis2gw's ``GET|POST /aggregate/reenqueue/{task_id}``: send a dead or waiting submission again now."""
        task_id = request.path_params["task_id"]
        problem = await self._requeue(request, task_id)
        if problem == "not found":
            return error(f"Job log not found for task ID: {task_id}", 404)
        if problem is not None:
            return error(f"Failed to get task info in queue: {problem}", 500)
        return JSONResponse({"message": f"Re-enqueued task {task_id} (type: {TASK_TYPE}) from {QUEUE} queue"})

    @requires("deliveries.repair", scopes=["dhis2:aggregate"], basic=True)
    async def reenqueue_batch(self, request: Request) -> Response:
        """dhis2gw's ``POST /aggregate/reenqueue/batch``: ``{"queue", "task_ids"}`` → counts and errors."""
        try:
            body = parse_json(await request.body())  # an empty body is a 400, as Go's decoder answers EOF
        except BadRequest:
            return error("Invalid request body", 400)
        body = {} if body is None else body  # JSON null decodes to the empty request
        queue = body.get("queue", "dead") if isinstance(body, dict) else None
        task_ids = body.get("task_ids") or [] if isinstance(body, dict) else None
        if (
            not isinstance(queue, str)
            or not isinstance(task_ids, list)
            or not all(isinstance(t, str) for t in task_ids)
        ):
            return error("Invalid request body", 400)
        done, failed, errors = 0, 0, []
        for task_id in task_ids:
            problem = await self._requeue(request, task_id)
            if problem is None:
                done += 1
            else:
                failed += 1
                errors.append(f"Task {task_id}: {'asynq: task not found' if problem == 'not found' else problem}")
        return JSONResponse({"queue": queue, "reEnqueued": done, "failed": failed, "errors": errors})
