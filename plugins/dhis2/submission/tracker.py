"""Checking a tracker import payload (``/api/tracker``), nested or flat, before it is stored.

Object uids (``trackedEntity``, ``enrollment``, ``event``, ``relationship``) must have
the uid form; references to metadata (``program``, ``orgUnit``, ``dataElement``…) too,
unless the instance identifies metadata otherwise. An ``orgUnit`` that is not a uid is
looked up in the org-unit mappings. Every object without a uid gets one, derived from the
submission, so a retry after a lost answer updates the objects instead of duplicating them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from plugins.dhis2.submission.problems import InvalidSubmission
from plugins.dhis2.uids import is_uid, uid_from

COLLECTIONS = ("trackedEntities", "enrollments", "events", "relationships")
_OWN_UID = {"trackedEntities": "trackedEntity", "enrollments": "enrollment", "events": "event"}
_OWN_UID["relationships"] = "relationship"
# Which collections may be nested inside an object of each collection.
_CHILDREN = {
    "trackedEntities": ("enrollments", "relationships"),
    "enrollments": ("events", "relationships"),
    "events": ("relationships",),
    "relationships": (),
}
_OBJECT_REFERENCES = ("trackedEntity", "enrollment", "event")
_METADATA_REFERENCES = (
    "trackedEntityType",
    "program",
    "programStage",
    "orgUnit",
    "attributeOptionCombo",
    "relationshipType",
)


@dataclass
class CheckedPayload:
    """The payload to send (uids assigned, org unit codes mapped) and what it holds."""

    payload: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)
    assigned: int = 0
    nested: bool = False


def _objects(payload: dict[str, Any], path: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every (collection, path, object) of the payload, nested ones included."""
    for collection in COLLECTIONS:
        items = payload.get(collection)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            where = f"{path}{collection}[{index}]"
            yield collection, where, item
            if isinstance(item, dict):
                nested = {c: item[c] for c in _CHILDREN[collection] if c in item}
                yield from _objects(nested, where + ".")


def org_unit_codes(payload: Any) -> set[str]:
    """The ``orgUnit`` values of the payload that are not uids (to look up before ``check``)."""
    if not isinstance(payload, dict):
        return set()
    return {
        item["orgUnit"]
        for _, _, item in _objects(payload)
        if isinstance(item, dict) and isinstance(item.get("orgUnit"), str) and not is_uid(item["orgUnit"])
    }


def check(payload: Any, *, seed: str, org_units: dict[str, str], metadata_by_uid: bool = True) -> CheckedPayload:
    """Validate ``payload`` and complete it; raises ``InvalidSubmission`` naming every bad field."""
    errors: list[dict[str, Any]] = []
    if not isinstance(payload, dict):
        raise InvalidSubmission(
            "the body must be a JSON object", [{"field": "(body)", "message": "expected an object"}]
        )
    for key in payload:
        if key not in COLLECTIONS:
            errors.append({"field": key, "message": f"unknown key; expected {', '.join(COLLECTIONS)}"})
    for collection in COLLECTIONS:
        if collection in payload and not isinstance(payload[collection], list):
            errors.append({"field": collection, "message": "must be a list"})
    if errors:
        raise InvalidSubmission("the tracker payload is invalid", errors)
    result = CheckedPayload(payload, dict.fromkeys(COLLECTIONS, 0))
    for collection, where, item in _objects(payload):
        if not isinstance(item, dict):
            errors.append({"field": where, "message": "must be an object"})
            continue
        result.counts[collection] += 1
        if "." in where:
            result.nested = True
        own = _OWN_UID[collection]
        if item.get(own) in (None, ""):
            item[own] = uid_from(f"{seed}:{where}")
            result.assigned += 1
        elif not is_uid(item[own]):
            errors.append({"field": f"{where}.{own}", "message": f"{item[own]!r} is not a DHIS2 uid"})
        for name in _OBJECT_REFERENCES:
            if name != own and isinstance(item.get(name), str) and not is_uid(item[name]):
                errors.append({"field": f"{where}.{name}", "message": f"{item[name]!r} is not a DHIS2 uid"})
        if isinstance(item.get("orgUnit"), str) and not is_uid(item["orgUnit"]) and item["orgUnit"] in org_units:
            item["orgUnit"] = org_units[item["orgUnit"]]
        if metadata_by_uid:
            _check_metadata(item, where, errors)
        if collection == "relationships":
            _check_ends(item, where, errors)
    if not any(result.counts.values()) and not errors:
        errors.append(
            {"field": "(body)", "message": f"nothing to import: give at least one of {', '.join(COLLECTIONS)}"}
        )
    if errors:
        raise InvalidSubmission("the tracker payload is invalid", errors)
    return result


def _check_metadata(item: dict[str, Any], where: str, errors: list[dict[str, Any]]) -> None:
    for name in _METADATA_REFERENCES:
        value = item.get(name)
        if isinstance(value, str) and value and not is_uid(value):
            hint = " and no org-unit mapping has this code" if name == "orgUnit" else ""
            errors.append({"field": f"{where}.{name}", "message": f"{value!r} is not a DHIS2 uid{hint}"})
    for list_name, key in (("attributes", "attribute"), ("dataValues", "dataElement")):
        entries = item.get(list_name)
        if entries is None:
            continue
        if not isinstance(entries, list):
            errors.append({"field": f"{where}.{list_name}", "message": "must be a list"})
            continue
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or not is_uid(entry.get(key)):
                shown = entry.get(key) if isinstance(entry, dict) else entry
                errors.append(
                    {"field": f"{where}.{list_name}[{index}].{key}", "message": f"{shown!r} is not a DHIS2 uid"}
                )


def _check_ends(item: dict[str, Any], where: str, errors: list[dict[str, Any]]) -> None:
    for end in ("from", "to"):
        value = item.get(end)
        if not isinstance(value, dict):
            errors.append(
                {
                    "field": f"{where}.{end}",
                    "message": "is required: an object naming a trackedEntity, enrollment or event",
                }
            )
            continue
        named = [k for k in _OBJECT_REFERENCES if k in value]
        if len(named) != 1:
            errors.append(
                {"field": f"{where}.{end}", "message": "must name exactly one trackedEntity, enrollment or event"}
            )
            continue
        ref = value[named[0]]
        uid = ref.get(named[0]) if isinstance(ref, dict) else ref
        if not is_uid(uid):
            errors.append({"field": f"{where}.{end}.{named[0]}", "message": f"{uid!r} is not a DHIS2 uid"})
