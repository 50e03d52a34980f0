"""What the helpline and CEEMIS/EEMIS post: validated, then turned into standard messages.

A helpline case without ``ref`` is a create (kind ``case``), with ``ref`` an update of the case
it names (kind ``case_update``). Both are validated field by field: every problem is named in
one 422 answer and nothing is stored.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core import BadRequest, StandardMessage, Unprocessable

HELPLINE = "helpline"
CREATE, UPDATE = "case", "case_update"

_Id = Field(min_length=1, max_length=255)


class _Item(BaseModel):
    # Fields the helpline adds are kept in the message's raw payload, not refused.
    model_config = ConfigDict(extra="allow")


class Client(_Item):
    fname: str | None = None
    phone: str | None = None
    email: str | None = None
    national_id: str | None = None
    passport: str | None = None
    country: str | None = None
    city: str | None = None


class Perpetrator(_Item):
    fname: str | None = None
    phone: str | None = None
    employer: str | None = None
    employer_number: str | None = None
    sector: str | None = None
    location: str | None = None


class CaseCreate(_Item):
    """A new case from the helpline."""

    src: str = Field(min_length=1, max_length=64)
    src_uid: str = _Id
    src_callid: str = _Id
    narrative: str = Field(min_length=1)
    case_category: str = Field(min_length=1, max_length=255)
    src_address: str | None = None
    src_ts: str | int | float | None = None
    session_id: str | None = None
    clients_case: list[Client] = Field(default_factory=list)
    perpetrators_case: list[Perpetrator] = Field(default_factory=list)


class CaseUpdate(_Item):
    """A change to a case the helpline sent before (``ref`` names it)."""

    ref: str = _Id
    update_id: str | None = Field(default=None, min_length=1, max_length=200)
    status: str | None = Field(default=None, min_length=1, max_length=64)
    narrative: str | None = None
    case_category: str | None = None
    src: str | None = Field(default=None, max_length=64)
    clients_case: list[Client] | None = None
    perpetrators_case: list[Perpetrator] | None = None


def _errors(err: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
        for e in err.errors(include_url=False)
    ]


def json_object(body: bytes, what: str) -> dict[str, Any]:
    """The body as a JSON object; 400 when it is not JSON, 422 when it is not an object."""
    try:
        data = json.loads(body)
    except ValueError as err:
        raise BadRequest(f"the {what} body is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise Unprocessable(f"invalid {what}", errors=[{"field": "(body)", "message": "expected a JSON object"}])
    return data


def validate_case(data: dict[str, Any]) -> CaseCreate | CaseUpdate:
    """The case create or update ``data`` describes; ``Unprocessable`` naming every bad field."""
    model: type[CaseCreate | CaseUpdate] = CaseUpdate if "ref" in data else CaseCreate
    try:
        case = model.model_validate(data)
    except ValidationError as err:
        raise Unprocessable("invalid case", errors=_errors(err)) from err
    if isinstance(case, CaseUpdate):
        changed = {"status", "narrative", "case_category", "clients_case", "perpetrators_case"} & case.model_fields_set
        if not changed:
            raise Unprocessable(
                "invalid case update",
                errors=[{"field": "(body)", "message": "an update needs status, narrative or a changed field"}],
            )
    return case


def _bounded(prefix: str, *parts: str) -> str:
    """``prefix:a:b`` as an external id, hashed when it would pass 255 characters."""
    joined = ":".join((prefix, *parts))
    if len(joined) <= 255:
        return joined
    return f"{prefix}:sha256:{hashlib.sha256(joined.encode()).hexdigest()}"


def case_key(src_uid: str) -> str:
    """The conversation key that ties a case's create and updates together."""
    return f"case:{src_uid}"[:255]


def create_message(case: CaseCreate, raw: dict[str, Any]) -> StandardMessage:
    """The standard message of a new case. Its external id is ``create:<src>:<src_uid>:<src_callid>``,
    so the helpline's retry of the same case is a duplicate."""
    client = case.clients_case[0] if case.clients_case else None
    return StandardMessage(
        platform=HELPLINE,
        external_id=_bounded("create", case.src, case.src_uid, case.src_callid),
        kind=CREATE,
        sender=(client.phone if client else None) or case.src_address,
        sender_name=client.fname if client else None,
        text=case.narrative,
        conversation_key=case_key(case.src_uid),
        raw=raw,
        extra={"ceemis": {"action": "create", "src": case.src, "src_uid": case.src_uid, "src_callid": case.src_callid}},
    )


def update_message(case: CaseUpdate, raw: dict[str, Any], case_uid: str | None) -> StandardMessage:
    """The standard message of an update. Its external id is ``update:<ref>:<update_id>`` when the
    helpline numbers its updates, else ``update:<ref>:<sha256 of the body>``: a retry of the same
    body is a duplicate (so is the same change sent twice without an ``update_id``)."""
    if case.update_id is not None:
        external_id = _bounded("update", case.ref, case.update_id)
    else:
        canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        external_id = _bounded("update", case.ref, hashlib.sha256(canonical.encode()).hexdigest())
    return StandardMessage(
        platform=HELPLINE,
        external_id=external_id,
        kind=UPDATE,
        text=case.narrative,
        conversation_key=case_key(case_uid or case.ref),
        raw=raw,
        extra={"ceemis": {"action": "update", "ref": case.ref, "status": case.status}},
    )


def remote_case_external_id(case_id: str, item: dict[str, Any]) -> str:
    """``case:<case id>:<sha256 of the case as posted>``: a replay of the same case (keys in any
    order) is a duplicate, while the same case posted again with a change (a new status, a new
    ``updated_at``) is a new message, so a change made in CEEMIS or EEMIS reaches the helpline."""
    canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return _bounded("case", case_id, hashlib.sha256(canonical.encode()).hexdigest())


def remote_case_messages(platform: str, body: bytes) -> list[StandardMessage]:
    """Cases created or changed in CEEMIS or EEMIS: a JSON object (or a list of them), each with
    ``case_id`` (or ``caseid``). Every version of a case shares one conversation; a replay of a
    version is stored once (``remote_case_external_id``)."""
    try:
        data = json.loads(body)
    except ValueError as err:
        raise BadRequest(f"the {platform} body is not valid JSON: {err}") from err
    items = data if isinstance(data, list) else [data]
    errors: list[dict[str, Any]] = []
    out: list[StandardMessage] = []
    for index, item in enumerate(items):
        where = f"{index}." if isinstance(data, list) else ""
        if not isinstance(item, dict):
            errors.append({"field": where.rstrip(".") or "(body)", "message": "expected a JSON object"})
            continue
        case_id = item.get("case_id", item.get("caseid"))
        if not isinstance(case_id, str | int) or isinstance(case_id, bool) or not str(case_id).strip():
            errors.append({"field": f"{where}case_id", "message": "a case id (string) is required"})
            continue
        case_id = str(case_id).strip()[:200]
        text = item.get("narrative", item.get("mw_narative"))
        phone = item.get("phone", item.get("mw_phone"))
        name = item.get("name", item.get("mw_name"))
        out.append(
            StandardMessage(
                platform=platform,
                external_id=remote_case_external_id(case_id, item),
                kind=CREATE,
                sender=phone if isinstance(phone, str) else None,
                sender_name=name if isinstance(name, str) else None,
                text=text if isinstance(text, str) else None,
                conversation_key=f"case:{case_id}",
                raw=item,
                extra={"case_id": case_id, "source": platform},
            )
        )
    if errors:
        raise Unprocessable(f"invalid {platform} case", errors=errors)
    return out
