"""``/plugins/ceemis/cases/{reference}``: what became of a helpline case and its updates."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core import NotFound, gateway_of, requires
from plugins.ceemis.cases import case_report


@requires("content.read", scopes=["ceemis:read"])
async def case_status(request: Request) -> Response:
    """A case's state (received, queued, delivered with the CEEMIS id, failed with the reason) and
    its updates, by any reference: the helpline's src_uid or src_callid, the gateway's message id,
    or the CEEMIS id."""
    reference = request.path_params["reference"]
    body = await case_report(gateway_of(request), reference)
    if body is None:
        raise NotFound(f"no case is known by {reference!r}")
    return JSONResponse(body)


def ceemis_routes() -> list[BaseRoute]:
    """The plugin's routes (mounted under ``/plugins/ceemis``)."""
    return [Route("/cases/{reference}", case_status, methods=["GET"])]
