"""What the console's views share: filters from a query string, ids from a path, the caller."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection
from datetime import date, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request

from core.auth.permissions import Principal
from core.errors import HTTPError

M = TypeVar("M", bound=BaseModel)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day_after(day: str) -> str:
    """The console's "Until" is a day it includes: the filter's bound (exclusive) is the next midnight, UTC."""
    try:
        return (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    except (ValueError, OverflowError):
        return day  # left as typed: the filter refuses it beside its input


def filters_from(params: Any, model: type[M], *, limit: int | None = None, skip: Collection[str] = ()) -> M:
    """A filter object from a query string or form: empty fields are absent, lists may repeat."""
    data: dict[str, Any] = {}
    for key in set(params.keys()):
        if key not in model.model_fields or key in skip:
            continue
        values = [v for v in params.getlist(key) if isinstance(v, str) and v.strip()]
        if not values:
            continue
        annotation = str(model.model_fields[key].annotation)
        data[key] = values if "list" in annotation else values[-1].strip()
        if key == "until" and isinstance(data[key], str) and _DAY.fullmatch(data[key]):
            data[key] = _day_after(data[key])
    if limit is not None and "limit" not in data:
        data["limit"] = limit
    try:
        return model.model_validate(data)
    except ValidationError as err:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in err.errors()]
        raise HTTPError("some filters are not valid", status_code=422, errors=errors) from err


async def filtered_page(
    params: Any,
    model: type[M],
    limit: int,
    fetch: Callable[[M], Awaitable[dict[str, Any]]],
    count: Callable[[M], Awaitable[dict[str, Any]]] | None = None,
) -> tuple[M, dict[str, Any], dict[str, str], int]:
    """``(filters, page, errors, status)`` of a list: a bad filter in the URL is an error beside its input.

    The list is then empty (not a list ignoring the filter the user asked for), and the other
    filters keep their values. ``errors`` maps a field to its message ("" for no one field).
    With ``count``, the page's ``total`` is what it answers for the filters (``paging.bounded_total``);
    the page's ``links`` are the query strings of its newest, newer and older pages (see ``page_links``).
    """
    try:
        f = filters_from(params, model, limit=limit)
        page = await fetch(f)
        page["total"] = await count(f) if count is not None else None
    except HTTPError as exc:
        if exc.status_code not in (400, 422):
            raise
        errors = field_errors(exc) or {"": str(exc)}
        f = filters_from(params, model, limit=limit, skip={*errors, "cursor", "before"})
        page = {"items": [], "next": None, "newer": None, "total": None}
        return f, page | {"links": page_links(f, page)}, errors, exc.status_code
    return f, page | {"links": page_links(f, page)}, {}, 200


def page_links(f: BaseModel, page: dict[str, Any]) -> dict[str, str | None]:
    """The query strings of a list's newest, newer and older pages (``None``: no such page), each with ``f``'s filters."""
    paged = bool(getattr(f, "cursor", None) or getattr(f, "before", None))
    return {
        "newest": query_of(f, cursor=None, before=None) if paged or page.get("newer") else None,
        "newer": query_of(f, cursor=None, before=page["newer"]) if page.get("newer") else None,
        "older": query_of(f, cursor=page["next"], before=None) if page.get("next") else None,
    }


def field_errors(exc: HTTPError) -> dict[str, str]:
    """An error's messages by field (the first one of each), for showing them beside the inputs."""
    out: dict[str, str] = {}
    for e in exc.errors or []:
        field = str(e.get("field") or "").split(".")[0]
        if field and field not in out:
            out[field] = str(e.get("message") or "")
    return out


def query_of(f: BaseModel, **changes: Any) -> str:
    """The query string of a filter object (for links: next page, the same filter elsewhere)."""
    data = f.model_dump(mode="json", exclude_none=True, exclude={"limit"}) | changes
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        if value is None:
            continue
        for v in value if isinstance(value, list) else [value]:
            pairs.append((key, str(v)))
    return urlencode(pairs)




MEDIA_FIELDS = ("id", "url", "mime_type", "sha256", "caption", "filename")


def media_of(items: Any) -> list[dict[str, Any]]:
    """A message's media with every field present: adapters send only what their platform has.

    WhatsApp sends no ``filename`` for an image, audio, video or sticker, and a plugin may
    store a field we do not show; the templates read each field, so each is filled in.
    """
    if not isinstance(items, list):
        return []
    return [{k: item.get(k) for k in MEDIA_FIELDS} for item in items if isinstance(item, dict)]


def caller(request: Request) -> Principal:
    return request.state.principal  # type: ignore[no-any-return]


def text_field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
