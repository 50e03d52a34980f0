"""``/openapi.json``, built from the routes themselves: every core and plugin endpoint.

Endpoints describe themselves with a docstring (first line: summary) and, optionally,
``@describe(body=PydanticModel, query=PydanticModel)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.routing import BaseRoute

from core.web.security import walk_routes

F = TypeVar("F", bound=Callable[..., Any])
_PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


def describe(
    *, body: type[BaseModel] | None = None, query: type[BaseModel] | None = None, tags: Iterable[str] = ()
) -> Callable[[F], F]:
    """Attach a request body or query model to an endpoint for the OpenAPI document."""

    def mark(endpoint: F) -> F:
        endpoint.__openapi__ = {"body": body, "query": query, "tags": list(tags)}  # type: ignore[attr-defined]
        return endpoint

    return mark


def openapi_document(routes: Iterable[BaseRoute], *, title: str, version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
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
                "summary": summary or endpoint.__name__,
                "tags": meta.get("tags") or [tag],
                "parameters": [
                    {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                    for name in _PARAM.findall(path)
                ],
                "responses": {"200": {"description": "OK"}, "4XX": {"$ref": "#/components/responses/Error"}},
            }
            if description.strip():
                op["description"] = description.strip()
            if not permission.public:
                op["security"] = [{"bearer": []}, {"apiKey": []}]
                op["x-required-role"] = permission.role
                if permission.scopes:
                    op["x-api-key-scopes"] = list(permission.scopes)
            query = meta.get("query")
            if query is not None:
                schema = query.model_json_schema()
                for name, prop in schema.get("properties", {}).items():
                    op["parameters"].append(
                        {"name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop}
                    )
            body = meta.get("body")
            if body is not None and method in ("POST", "PUT", "PATCH"):
                op["requestBody"] = {"content": {"application/json": {"schema": body.model_json_schema()}}}
            paths.setdefault(openapi_path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": dict(sorted(paths.items())),
        "components": {
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
