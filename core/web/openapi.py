"""``/openapi.json``, built from the routes themselves: every core and plugin endpoint.

Endpoints describe themselves with a docstring (first line: summary) and, optionally,
``@describe(body=PydanticModel, query=PydanticModel, status=201, responses={201: Model})``:
the request body (a model, or a JSON schema with ``content_type=`` for a multipart upload),
the query string, the success code the route answers and the schema of each 2xx answer.
Path parameters with an ``int`` convertor are integers, ``uuid`` ones uuids.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.routing import BaseRoute

from core.web.security import walk_routes

F = TypeVar("F", bound=Callable[..., Any])
_PARAM = re.compile(r"{([^}:]+)(?::([^}]+))?}")
_CONVERTORS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer", "minimum": 0},
    "float": {"type": "number", "minimum": 0},
    "uuid": {"type": "string", "format": "uuid"},
}
# A schema: a Pydantic model or a JSON schema (dict).
Schema = type[BaseModel] | dict[str, Any]
OBJECT: dict[str, Any] = {"type": "object"}


def page_of(item: dict[str, Any] | None = None, *, both_ways: bool = False) -> dict[str, Any]:
    """The schema of a keyset page: ``{"items": [...], "next": cursor or null}``; ``both_ways``: also
    ``"newer"``, the ``before`` cursor of the newer page or null (the lists of ``core.operations.paging``)."""
    cursor = {"type": ["string", "null"]}
    properties: dict[str, Any] = {"items": {"type": "array", "items": item or OBJECT}, "next": cursor}
    if both_ways:
        properties["newer"] = cursor
    return {"type": "object", "properties": properties, "required": list(properties)}


def upload(field: str = "file", **fields: dict[str, Any]) -> dict[str, Any]:
    """The schema of a multipart form with a file ``field`` (and other form ``fields``)."""
    return {
        "type": "object",
        "properties": {field: {"type": "string", "format": "binary"}, **fields},
        "required": [field],
    }


def describe(
    *,
    body: Schema | None = None,
    query: type[BaseModel] | None = None,
    tags: Iterable[str] = (),
    status: int = 200,
    responses: Mapping[int, Schema | None] | None = None,
    content_type: str = "application/json",
) -> Callable[[F], F]:
    """Describe an endpoint for the OpenAPI document.

    ``body``: the request body (a model or a JSON schema) sent as ``content_type``; ``query``:
    the query string; ``status``: the code a success answers (200, 201, 202, 204); ``responses``:
    the schema of each 2xx answer (``None`` for no body), ``status`` included when it has one.
    """

    def mark(endpoint: F) -> F:
        endpoint.__openapi__ = {  # type: ignore[attr-defined]
            "body": body,
            "query": query,
            "tags": list(tags),
            "status": status,
            "responses": dict(responses or {}),
            "content_type": content_type,
        }
        return endpoint

    return mark


def _schema(schema: Schema, components: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema; a model's nested definitions go to ``components/schemas``."""
    if isinstance(schema, dict):
        return schema
    out = schema.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(out.pop("$defs", {}))
    return out


def _responses(meta: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    declared: dict[int, Schema | None] = meta.get("responses") or {}
    status = int(meta.get("status", 200))
    codes = sorted({status, *declared})
    out: dict[str, Any] = {}
    for code in codes:
        answer: dict[str, Any] = {"description": HTTPStatus(code).phrase}
        schema = declared.get(code)
        if schema is not None and code != 204:
            answer["content"] = {"application/json": {"schema": _schema(schema, components)}}
        out[str(code)] = answer
    out["4XX"] = {"$ref": "#/components/responses/Error"}
    return out


def openapi_document(routes: Iterable[BaseRoute], *, title: str, version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {}
    for path, methods, permission, endpoint in walk_routes(routes):
        if path.startswith("/static") or path.startswith("/docs/"):
            continue
        doc = (getattr(endpoint, "__doc__", None) or "").strip()
        summary, _, description = doc.partition("\n")
        meta = getattr(endpoint, "__openapi__", {})
        openapi_path = _PARAM.sub(r"{\1}", path)
        tag = path.strip("/").split("/")[0] or "gateway"
        if tag == "plugins":
            tag = "plugin: " + path.strip("/").split("/")[1]
        for method in sorted(methods):
            op: dict[str, Any] = {
                "summary": summary or getattr(endpoint, "__name__", type(endpoint).__name__),
                "tags": meta.get("tags") or [tag],
                "parameters": [
                    {"name": name, "in": "path", "required": True, "schema": _CONVERTORS.get(kind, {"type": "string"})}
                    for name, kind in _PARAM.findall(path)
                ],
                "responses": _responses(meta, components),
            }
            if description.strip():
                op["description"] = description.strip()
            if not permission.public:
                op["security"] = [{"bearer": []}, {"apiKey": []}]
                if permission.permission is not None:
                    op["x-required-permission"] = permission.permission
                if permission.scopes:
                    op["x-api-key-scopes"] = list(permission.scopes)
            query = meta.get("query")
            if query is not None:
                schema = _schema(query, components)
                for name, prop in schema.get("properties", {}).items():
                    op["parameters"].append(
                        {"name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop}
                    )
            body = meta.get("body")
            if body is not None and method in ("POST", "PUT", "PATCH"):
                content_type = meta.get("content_type", "application/json")
                op["requestBody"] = {"content": {content_type: {"schema": _schema(body, components)}}}
            paths.setdefault(openapi_path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
            "responses": {
                "Error": {
                    "description": "An error",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "error": {"type": "string"},
                                    "errors": {"type": "array", "items": {"type": "object"}},
                                    "request_id": {"type": "string"},
                                },
                                "required": ["error"],
                            }
                        }
                    },
                }
            },
        },
    }
