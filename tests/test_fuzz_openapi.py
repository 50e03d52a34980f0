"""Fuzzing the app's own OpenAPI document: no generated request makes it answer a 5xx.

schemathesis generates requests from /openapi.json (every operation, a few examples each,
deterministically); they are sent in-process to the app (httpx's ASGI transport, the app's
own event loop and lifespan), authenticated as an admin so they reach the handlers (the
console's routes under /admin are in the document too, and take the API's bearer token without
a CSRF token); the test also checks that every operation was reached. SQLite stack: the
handlers are the same on both; the point is the handlers' input checking.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from core.testing import gateway_client, make_settings, user_headers

EXAMPLES_PER_OPERATION = 4
# Operations that would end the run's own credentials or that stream forever.
SKIPPED = {("POST", "/api/auth/logout")}
# Operations whose own answer looks like a refusal at the door: a generated refresh token is
# never valid (its 401), and logging out ends at the login page.
ANSWER_LIKE_THE_DOOR = {("POST", "/api/auth/refresh"), ("POST", "/admin/logout")}


def generated_cases(document: dict[str, Any]) -> list[Any]:
    """A few deterministic cases for every operation of ``document``."""
    schema = schemathesis.openapi.from_dict(document)
    cases: list[Any] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        @given(operation.as_strategy())
        def collect(case: Any) -> None:
            cases.append(case)

        collect()
    return cases


@pytest.mark.stacks("sqlite")
async def test_no_generated_request_gets_a_server_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    dhis2 = {"instances": {"national": {"base_url": "http://127.0.0.1:9", "token": "d2pat_fuzz"}}}
    async with gateway_client(make_settings(tmp_path, plugins={"dhis2": dhis2})) as client:
        admin = await user_headers(client.gateway, "admin")
        document = (await client.get("/openapi.json")).json()
        failures = []
        reached: set[tuple[str, str]] = set()
        for case in generated_cases(document):
            prepared = requests.Request(**_request_kwargs(case)).prepare()
            headers = {k: v for k, v in prepared.headers.items() if k.lower() not in ("authorization", "x-api-key")}
            response = await client.request(
                prepared.method or "GET",
                prepared.url or "/",
                content=prepared.body,
                headers={**headers, **admin},
            )
            if response.status_code >= 500:
                failures.append(f"{prepared.method} {prepared.url} → {response.status_code}: {response.text[:300]}")
            if not _refused_at_the_door(response):
                reached.add((case.operation.method.upper(), case.operation.path))
        assert not failures, "\n".join(failures)
    # Every operation, the console's included, had a request past authentication to its handler.
    operations = {(m.upper(), path) for path, item in document["paths"].items() for m in item}
    operations -= SKIPPED | ANSWER_LIKE_THE_DOOR
    assert any(path.startswith("/admin/") for _, path in operations)
    assert not operations - reached, sorted(operations - reached)


def _refused_at_the_door(response: Any) -> bool:
    """Turned away before the handler: not signed in (the console's redirect to its login page, or a 401)."""
    return response.status_code == 401 or "/admin/login" in response.headers.get("location", "")


def _request_kwargs(case: Any) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    for key in ("cookies", "timeout", "allow_redirects", "verify", "stream"):
        kwargs.pop(key, None)
    if kwargs.get("files"):
        # requests wants str or bytes in a multipart part.
        kwargs["files"] = [
            (name, part if not isinstance(part, tuple) or isinstance(part[1], (str, bytes)) else (part[0], str(part[1])))
            for name, part in kwargs["files"]
        ]
    return kwargs
