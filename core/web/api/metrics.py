"""``GET /api/metrics/summary``: the dashboard's figures as JSON (``core.operations.summary``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core.auth.permissions import requires
from core.operations.summary import summary
from core.web.api import answers as A
from core.web.api.params import parse_query
from core.web.openapi import describe
from core.web.requests import gateway_of


class SummaryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window: Literal["24h", "7d"] = "24h"


@requires("traffic.read", scopes=["metrics:read"])
@describe(query=SummaryQuery, responses={200: A.SUMMARY})
async def metrics_summary(request: Request) -> Response:
    """Messages received, deliveries created and attempt outcomes (delivered, retry, dead) in the
    window (the current UTC hour and the 23, or 167, before it), success rate per destination
    (delivered / (delivered + dead) outcomes), deliveries waiting now by status, mean and p95
    delivery time of the latest delivered ones, queue depth and oldest pending delivery, and
    volume over time. Closed hours come from the hourly rollup, the rest is counted live."""
    query = parse_query(request, SummaryQuery)
    return JSONResponse(await summary(gateway_of(request).db, query.window))


def metrics_routes() -> list[BaseRoute]:
    return [Route("/api/metrics/summary", metrics_summary, methods=["GET"])]
