"""Reading DHIS2's HTTP answers, and turning the ones that carry no import report into errors.

401 and 403 are permanent, with a message that says what to fix; so is a redirect (DHIS2
sends unauthenticated requests to its login page) and a 404 (a wrong ``base_url`` or
``api_version``). 408, 425, 429 and 5xx are retried by the core, honouring ``Retry-After``.
"""

from __future__ import annotations

from typing import Any, NoReturn

import httpx

from core import DeliveryError, raise_for_response
from plugins.dhis2.delivery.summaries import web_message

EXCERPT = 2000


def json_body(response: httpx.Response) -> Any:
    """The answer's JSON, or ``None`` when it is not JSON (an HTML error page, a proxy's answer)."""
    try:
        return response.json()
    except ValueError:
        return None


def excerpt(response: httpx.Response) -> str:
    text = response.text
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


def refuse(response: httpx.Response, instance: str, *, detail: dict[str, Any] | None = None) -> NoReturn:
    """Raise the ``DeliveryError`` an answer without an import report deserves."""
    status = response.status_code
    said = web_message(json_body(response))
    reason = f": {said}" if said else ""
    detail = {**(detail or {}), "response": excerpt(response)}
    where = f"DHIS2 instance {instance!r}"
    if status == 401:
        raise DeliveryError(
            f"{where} refused the credentials (HTTP 401){reason}: check its token, or username and password",
            retryable=False,
            status_code=status,
            detail=detail,
        )
    if status == 403:
        raise DeliveryError(
            f"{where} does not let this user do that (HTTP 403){reason}: check the user's authorities and "
            "its access to the data set, program and org units",
            retryable=False,
            status_code=status,
            detail=detail,
        )
    if 300 <= status < 400:
        raise DeliveryError(
            f"{where} redirected the request (HTTP {status} to {response.headers.get('location', '?')}): usually "
            "to its login page, i.e. the credentials were not accepted; check base_url and credentials",
            retryable=False,
            status_code=status,
            detail=detail,
        )
    if status == 404:
        raise DeliveryError(
            f"{where} has no {response.request.url.path} (HTTP 404){reason}: check base_url and api_version",
            retryable=False,
            status_code=status,
            detail=detail,
        )
    if status == 413:
        raise DeliveryError(
            f"{where} refused the request as too large (HTTP 413): lower [plugins.dhis2] chunk_size",
            retryable=False,
            status_code=status,
            detail=detail,
        )
    try:
        raise_for_response(response, what=where)
    except DeliveryError as err:
        raise DeliveryError(
            f"{err}{reason}",
            retryable=err.retryable,
            retry_after=err.retry_after,
            status_code=status,
            detail=detail,
        ) from None
    # A 2xx answer that is not what the endpoint answers: nothing sensible to retry.
    raise DeliveryError(
        f"{where} answered HTTP {status} without an import report", retryable=False, status_code=status, detail=detail
    )
