"""The fake DHIS2's tracker importer: validation against its metadata, error codes, stats."""

from __future__ import annotations

import secrets
import string
from typing import Any

from tests.fakes.dhis2_metadata import Metadata


def new_uid() -> str:
    alphabet = string.ascii_letters + string.digits
    return secrets.choice(string.ascii_letters) + "".join(secrets.choice(alphabet) for _ in range(10))


def import_tracker(
    payload: dict[str, Any], md: Metadata, tracked: dict[str, dict[str, Any]], atomic_mode: str
) -> dict[str, Any]:
    """Validate and "store" (in ``tracked``) a tracker payload as DHIS2 does; its ImportReport."""
    errors: list[dict[str, Any]] = []
    objects: list[tuple[str, dict[str, Any]]] = []

    def walk(collection: str, items: list[Any]) -> None:
        for item in items or []:
            objects.append((collection, item))
            for child in ("enrollments", "events", "relationships"):
                if child in item:
                    walk(child, item[child])

    for collection in ("trackedEntities", "enrollments", "events", "relationships"):
        walk(collection, payload.get(collection, []))
    kinds = {"trackedEntities": "TRACKED_ENTITY", "enrollments": "ENROLLMENT", "events": "EVENT"}
    kinds["relationships"] = "RELATIONSHIP"
    own = {"trackedEntities": "trackedEntity", "enrollments": "enrollment", "events": "event"}
    own["relationships"] = "relationship"
    for collection, item in objects:
        uid = item.get(own[collection]) or new_uid()
        item[own[collection]] = uid

        def error(code: str, message: str, *, _c: str = collection, _u: str = uid) -> None:
            errors.append({"message": message, "errorCode": code, "trackerType": kinds[_c], "uid": _u})

        if collection == "trackedEntities":
            if item.get("trackedEntityType") not in md.tracked_entity_types:
                error("E1005", f"Could not find TrackedEntityType: `{item.get('trackedEntityType')}`.")
            if item.get("orgUnit") not in md.org_units:
                error("E1049", f"Could not find OrganisationUnit: `{item.get('orgUnit')}`, linked to Tracked Entity.")
        elif collection == "enrollments":
            if item.get("program") not in md.programs:
                error("E1069", f"Could not find Program: `{item.get('program')}`, linked to Enrollment.")
            if item.get("orgUnit") not in md.org_units:
                error("E1070", f"Could not find OrganisationUnit: `{item.get('orgUnit')}`, linked to Enrollment.")
        elif collection == "events":
            if item.get("program") not in md.programs:
                error("E1010", f"Could not find Program: `{item.get('program')}`, linked to Event.")
            if item.get("programStage") not in md.program_stages:
                error("E1013", f"Could not find ProgramStage: `{item.get('programStage')}`, linked to Event.")
            if item.get("orgUnit") not in md.org_units:
                error("E1011", f"Could not find OrganisationUnit: `{item.get('orgUnit')}`, linked to Event.")
            for dv in item.get("dataValues", []):
                if dv.get("dataElement") not in md.data_elements:
                    error("E1304", f"Could not find DataElement: `{dv.get('dataElement')}`.")
    stats = {"created": 0, "updated": 0, "deleted": 0, "ignored": 0, "total": len(objects)}
    failed = {e["uid"] for e in errors}
    for collection, item in objects:
        uid = item[own[collection]]
        if errors and atomic_mode == "ALL" or uid in failed:
            stats["ignored"] += 1
            continue
        stats["updated" if uid in tracked else "created"] += 1
        tracked[uid] = {k: v for k, v in item.items() if k not in ("enrollments", "events", "relationships")}
    return {
        "status": "ERROR" if errors else "OK",
        "validationReport": {"errorReports": errors, "warningReports": []},
        "stats": stats,
        "bundleReport": {"status": "ERROR" if errors else "OK", "stats": stats},
    }
