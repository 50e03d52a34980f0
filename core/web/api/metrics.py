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


@requires("viewer", scopes=["metrics:read"])
@describe(query=SummaryQuery, responses={200: A.SUMMARY})
async def metrics_summary(request: Request) -> Response:
    """Messages and deliveries by status over the window, success rate per destination, mean and
    p95 delivery time, queue depth and oldest pending delivery, and volume over time."""
    query = parse_query(request, SummaryQuery)
    return JSONResponse(await summary(gateway_of(request).db, query.window))


def metrics_routes() -> list[BaseRoute]:
    return [Route("/api/metrics/summary", metrics_summary, methods=["GET"])]
