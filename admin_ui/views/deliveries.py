"""Deliveries: filter, inspect every attempt, requeue, cancel, delete; bulk requeue and purge."""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin_ui.console import console_of
from admin_ui.flash import redirect_with
from admin_ui.views.common import caller, filtered_page, filters_from, query_of
from core import path_uuid
from core.auth.permissions import requires
from core.errors import HTTPError, NotFound
from core.operations import destinations, records, repair
from core.operations.filters import DeliveryFilters
from core.pipeline.breaker import HELD
from core.pipeline.statuses import FINAL, REQUEUEABLE, WAITING, DeliveryStatus

STATUSES = [s.value for s in DeliveryStatus]


def _import_summary(detail: Any) -> dict[str, Any] | None:
    """DHIS2's import counts and conflicts, when an attempt's detail holds them."""
    if not isinstance(detail, dict):
        return None
    counts = detail.get("importCount") or detail.get("import_count") or detail.get("stats")
    conflicts = detail.get("conflicts") or []
    if counts is None and not conflicts:
        return None
    shown = [_conflict(c) for c in conflicts] if isinstance(conflicts, list) else []
    return {"counts": counts if isinstance(counts, dict) else {}, "conflicts": shown}


def _conflict(conflict: Any) -> dict[str, Any]:
    """A conflict with the source codes that were sent (the data values it names carry them), not only DHIS2's ids."""
    if not isinstance(conflict, dict):
        return {"object": "", "value": str(conflict), "errorCode": None, "sources": []}
    listed = conflict.get("dataValues")
    values: list[Any] = listed if isinstance(listed, list) else []
    sources = [str(v["code"]) for v in values if isinstance(v, dict) and v.get("code")]
    return {
        "object": conflict.get("object") or "",
        "value": conflict.get("value") or conflict.get("message") or "",
        "errorCode": conflict.get("errorCode"),
        "sources": list(dict.fromkeys(sources)),
    }


def _json_decoded(value: Any) -> Any:
    """``value`` with its JSON text decoded (a submission stored as text), for showing it as JSON, not a string."""
    if isinstance(value, dict):
        return {k: _json_decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_decoded(v) for v in value]
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@requires("traffic.read")
async def list_deliveries(request: Request) -> Response:
    """Deliveries, newest first, filtered by status, destination, platform and date."""
    console = console_of(request)
    f, page, errors, status = await filtered_page(
        request.query_params,
        DeliveryFilters,
        console.page_size,
        lambda f: records.list_deliveries(console.gateway.db, f),
        lambda f: records.count_listed_deliveries(console.gateway.db, f, bound=console.settings.list_total_bound),
    )
    context = {
        "f": f,
        "errors": errors,
        "page": page,
        "statuses": STATUSES,
        "chosen": [s.value for s in f.status or []],
        "destinations": sorted(console.gateway.destinations),
        "platforms": sorted(console.gateway.adapters),
        "query": query_of(f),
    }
    return console.render(request, "deliveries.html", context, block="results", status_code=status)


@requires("content.read")
async def show_delivery(request: Request) -> Response:
    """One delivery: its message, every attempt, DHIS2 import counts and conflicts."""
    console = console_of(request)
    item = await records.get_delivery(console.gateway.db, path_uuid(request))
    if item is None:
        raise NotFound("no such delivery")
    audit = console.gateway.audit
    for attempt in item["attempts"]:
        attempt["import"] = _import_summary(attempt.get("detail"))
        # Redacted as the audit log is ([audit] redact_keys): a recorded request may carry a token.
        attempt["detail"] = audit.redact(_json_decoded(attempt["detail"])) if attempt.get("detail") else None
    if item.get("message") and item["message"].get("extra"):
        item["message"]["extra"] = audit.redact(_json_decoded(item["message"]["extra"]))
    try:
        breaker: dict[str, Any] | None = await destinations.get_destination(console.gateway, item["destination"])
    except NotFound:  # a destination neither configured nor ever attempted
        breaker = None
    context = {
        "breaker": breaker,
        "held_back": breaker is not None and breaker["state"] in HELD,
        "d": item,
        "requeueable": item["status"] in REQUEUEABLE,
        "cancellable": item["status"] in WAITING,
        "deletable": item["status"] != DeliveryStatus.RUNNING,
        "import": _import_summary(item.get("detail")),
    }
    return console.render(request, "delivery.html", context, block="delivery")


def _back(request: Request, delivery_id: str) -> Response:
    """After an action: the delivery's page again (HTMX swaps it in place)."""
    return RedirectResponse(f"/admin/deliveries/{delivery_id}", status_code=303)


@requires("deliveries.repair")
async def requeue(request: Request) -> Response:
    delivery_id = path_uuid(request)
    await repair.requeue(console_of(request).gateway, delivery_id, caller(request))
    return await _after(request, str(delivery_id))


@requires("deliveries.repair")
async def cancel(request: Request) -> Response:
    delivery_id = path_uuid(request)
    await repair.cancel(console_of(request).gateway, delivery_id, caller(request))
    return await _after(request, str(delivery_id))


@requires("deliveries.repair")
async def delete(request: Request) -> Response:
    delivery_id = path_uuid(request)
    await repair.delete(console_of(request).gateway, delivery_id, caller(request))
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": "/admin/deliveries"})
    return RedirectResponse("/admin/deliveries", status_code=303)


async def _after(request: Request, delivery_id: str) -> Response:
    if request.headers.get("hx-request") == "true":
        return await show_delivery(request)
    return _back(request, delivery_id)


@requires("deliveries.repair")
async def bulk(request: Request) -> Response:
    """Requeue or purge everything matching the filter: first a confirmation stating the count."""
    console = console_of(request)
    form = await request.form()
    action = form.get("action")
    if action not in ("requeue", "purge"):
        raise NotFound("no such action")
    f = filters_from(form, DeliveryFilters)
    if action == "requeue" and not f.status:
        f = f.model_copy(update={"status": [DeliveryStatus.DEAD]})
    if action == "purge" and not f.status:
        f = f.model_copy(update={"status": list(FINAL)})
    if form.get("confirmed") != "yes":
        count = await records.count_deliveries(console.gateway.db, f.model_copy(update={"cursor": None}))
        context = {"action": action, "count": count, "f": f, "fields": _fields(f), "query": query_of(f)}
        return console.render(request, "confirm.html", context, block="content")
    if action == "requeue":
        done = await repair.requeue_many(console.gateway, f, caller(request))
    else:
        done = await repair.purge(console.gateway, f, caller(request))
    noun = "delivery" if done == 1 else "deliveries"
    notice = f"Requeued {done} {noun}." if action == "requeue" else f"Purged {done} {noun}."
    return redirect_with(request, console.gateway, f"/admin/deliveries?{query_of(f)}", notice=notice)


def _fields(f: DeliveryFilters) -> list[tuple[str, str]]:
    data = f.model_dump(mode="json", exclude_none=True, exclude={"limit", "cursor"})
    return [(k, str(v)) for k, value in data.items() for v in (value if isinstance(value, list) else [value])]


SELECTED_ACTIONS = {"requeue": (repair.requeue, "Requeued"), "cancel": (repair.cancel, "Cancelled")}


@requires("deliveries.repair")
async def selected(request: Request) -> Response:
    """Requeue or cancel the deliveries ticked in the list (one page at most); those that cannot be are counted, not failed."""
    console = console_of(request)
    form = await request.form()
    action = str(form.get("action") or "")
    if action not in SELECTED_ACTIONS:
        raise HTTPError("unknown action", status_code=400)
    ids = [str(v) for v in form.getlist("id")][: console.page_size]
    if not ids:
        raise HTTPError("tick the deliveries first", status_code=422, errors=[{"field": "id", "message": "none ticked"}])
    act, done_word = SELECTED_ACTIONS[action]
    done, refused = 0, 0
    for raw in ids:
        try:
            await act(console.gateway, uuid.UUID(raw), caller(request))
            done += 1
        except (HTTPError, ValueError):  # not requeueable or cancellable any more, deleted, or not an id
            refused += 1
    notice = f"{done_word} {done} deliver{'y' if done == 1 else 'ies'}."
    if refused:
        notice += f" {refused} could not be ({'not dead or cancelled' if action == 'requeue' else 'no longer waiting'} or gone)."
    back = str(form.get("back") or "")
    target = "/admin/deliveries" + (f"?{back}" if back and "//" not in back and "\\" not in back else "")
    return redirect_with(request, console.gateway, target, notice=notice)
