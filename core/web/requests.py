"""Reading a request: the gateway serving it, and its JSON body. One way for core and plugins alike."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from pydantic import BaseModel
from starlette.requests import Request

from core.auth.permissions import authentication_required
from core.errors import BadRequest, HTTPError, NotFound

if TYPE_CHECKING:
    from core.auth.permissions import Principal
    from core.contracts import AdminConsole
    from core.gateway import Gateway

M = TypeVar("M", bound=BaseModel)
JSON_TYPES = ("application/json",)


def gateway_of(request: Request) -> Gateway:
    """The gateway of the app serving ``request`` (what hooks receive as ``gateway``)."""
    return cast("Gateway", request.app.state.gateway)


def principal_of(request: Request) -> Principal:
    """Who made ``request``: the user or API key the gateway authenticated (always there in an
    endpoint under ``requires``); on a route that let anyone in, the same 401 as ``requires``."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise authentication_required()
    return cast("Principal", principal)


def admin_console(request: Request) -> AdminConsole:
    """The admin console serving an ``AdminPage``'s endpoint (404 outside the console)."""
    console = getattr(request.state, "admin", None)
    if console is None:
        raise NotFound("the admin console serves this page")
    return cast("AdminConsole", console)


def path_uuid(request: Request, name: str = "id", what: str = "record") -> uuid.UUID:
    """The UUID in path parameter ``name``; ``NotFound`` (404, "no such <what>") when it is not one.

    A malformed id names nothing that exists, so it is answered as an unknown one is.
    """
    try:
        return uuid.UUID(str(request.path_params[name]))
    except ValueError as err:
        raise NotFound(f"no such {what}") from err


def read_query(request: Request, model: type[M]) -> M:
    """The query string as ``model``: 422 naming each parameter that does not fit (an unknown one
    too, when the model forbids extras); a list field takes repeated or comma-separated values."""
    from core.web.api.params import parse_query

    return parse_query(request, model)


def parse_json(body: bytes | str) -> Any:
    """JSON text as Python values; ``BadRequest`` (400) when it is not JSON a store can hold.

    Refused: malformed JSON, nesting too deep for the parser (``[`` × 1,000 is 2 KB), and a
    string with a lone UTF-16 surrogate (``"\\ud800"``), which no UTF-8 column can store.
    """
    try:
        data = json.loads(body)
    except RecursionError as err:
        raise BadRequest("the body is not valid JSON: nested too deeply") from err
    except ValueError as err:
        raise BadRequest(f"the body is not valid JSON: {err}") from err
    # Only an escape can produce a surrogate; look for one only when the text has escapes.
    escaped = b"\\u" in body if isinstance(body, bytes) else "\\u" in body
    if escaped:
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as err:
            raise BadRequest("the body is not valid JSON: a string holds a lone surrogate (\\ud800-\\udfff)") from err
    return data


@overload
async def read_json(request: Request, model: None = None, *, optional: bool = False) -> Any: ...


@overload
async def read_json(request: Request, model: type[M], *, optional: bool = False) -> M: ...


async def read_json(request: Request, model: type[M] | None = None, *, optional: bool = False) -> Any:
    """The request's JSON body, validated as ``model`` when one is given.

    415 when the content type is not JSON, 400 when the body is not JSON (or, with a model, not
    an object), 422 naming every invalid field (pydantic's errors, rendered by the core).
    ``optional``: an empty body is ``model()`` (or ``{}``) whatever its content type.
    """
    body = await request.body()
    if optional and not body.strip():
        return model() if model is not None else {}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES and not content_type.endswith("+json"):
        raise HTTPError(
            f"expected a JSON body (Content-Type: application/json), got {content_type or 'no content type'}",
            status_code=415,
        )
    data = parse_json(body)
    if model is None:
        return data
    if not isinstance(data, dict):
        raise BadRequest("expected a JSON object")
    return model.model_validate(data)
