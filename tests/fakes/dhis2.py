"""A fake DHIS2: a small real Starlette app served by uvicorn on loopback (tests and bench/).

It knows a small metadata set (a data set, data elements, option combos, org units, a
tracker program) and answers like DHIS2 does: ``/api/system/info``, ``/api/me``, metadata
lists with ``filter=id:in:[…]``, ``POST /api/dataValueSets`` with an ImportSummary (the
WebMessage wrapper of 2.38+, HTTP 409 with conflicts, or the bare summary of older
versions), and ``/api/tracker`` synchronously or as a job polled at
``/api/tracker/jobs/{uid}`` with its report at ``/report``. It can also answer 401, fail
with 500 for a while, or answer slowly.

    async with running_fake_dhis2() as dhis2:
        dhis2.fail_with(500, times=1)
        ...
        assert dhis2.values[("fbfJHSPpUQD", "202401", "DiszpKrYNg8", "PT59n8BQbqM", "HllvX50cXC0")] == "12"

The uids it knows are in ``tests.fakes.dhis2_metadata``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.dhis2_metadata import DEFAULT_COC, PASSWORD, PERIOD, TOKEN, USERNAME, Metadata
from tests.fakes.dhis2_tracker import import_tracker, new_uid
from tests.support.serving import serving


@dataclass
class Received:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeDHIS2:
    url: str = ""
    version: str = "2.40.4"
    # Answer dataValueSets with the bare ImportSummary and HTTP 200, as DHIS2 did before 2.38.
    legacy: bool = False
    metadata: Metadata = field(default_factory=Metadata)
    requests: list[Received] = field(default_factory=list)
    values: dict[tuple[str, str, str, str, str], str] = field(default_factory=dict)
    tracked: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid → object, every tracker type
    # Polls of /api/tracker/jobs/{uid} before an asynchronous job is done.
    job_polls: int = 1
    delay: float = 0.0
    _failures: list[list[Any]] = field(default_factory=list)  # [status, path, requests to let through first]
    _jobs: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- controls ------------------------------------------------------------------

    def fail_with(self, status: int, times: int = 1, path: str | None = None, after: int = 0) -> None:
        """Answer ``times`` requests (to ``path`` if given) with ``status``, once ``after`` more have passed."""
        self._failures.extend([[status, path, after] for _ in range(times)])

    def forget_jobs(self) -> None:
        """What a restart does: tracker jobs and their reports lived in memory only."""
        self._jobs.clear()

    def posted(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith(path)]

    # -- plumbing -------------------------------------------------------------------

    def app(self) -> Starlette:
        routes = []
        for prefix in ("/api", "/api/{version:int}"):
            routes += [
                Route(f"{prefix}/system/info", self.system_info),
                Route(f"{prefix}/me", self.me),
                Route(f"{prefix}/dataValueSets", self.data_value_sets, methods=["POST"]),
                Route(f"{prefix}/tracker", self.tracker, methods=["POST"]),
                Route(f"{prefix}/tracker/jobs/{{job}}", self.job),
                Route(f"{prefix}/tracker/jobs/{{job}}/report", self.job_report),
                Route(f"{prefix}/{{resource}}", self.metadata_list),
            ]
        return Starlette(routes=routes)

    async def _admit(self, request: Request) -> Response | None:
        body = await request.body()
        self.requests.append(
            Received(request.method, request.url.path, dict(request.query_params), dict(request.headers), body)
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        for failure in self._failures:
            status, path, after = failure
            if path is None or request.url.path.endswith(path):
                if after > 0:
                    # This request passes; the failures waiting on this path now wait for one fewer.
                    for other in self._failures:
                        if other[1] == path:
                            other[2] -= 1
                    break
                self._failures.remove(failure)
                if status == 401:
                    return _unauthorized()
                if status in (301, 302):  # what DHIS2 does to a request it will not authenticate
                    login = f"{self.url}/dhis-web-commons/security/login.action"
                    return Response(status_code=status, headers={"Location": login})
                return _web_message(status, "ERROR", f"fake DHIS2 says {status}")
        if not self._authorised(request.headers.get("authorization", "")):
            return _unauthorized()
        return None

    @staticmethod
    def _authorised(header: str) -> bool:
        if header == f"ApiToken {TOKEN}":
            return True
        if header.startswith("Basic "):
            try:
                return base64.b64decode(header[6:]).decode() == f"{USERNAME}:{PASSWORD}"
            except ValueError:
                return False
        return False

    # -- endpoints ------------------------------------------------------------------

    async def system_info(self, request: Request) -> Response:
        refused = await self._admit(request)
        if refused:
            return refused
        return JSONResponse(
            {
                "contextPath": self.url,
                "version": self.version,
                "revision": "9e9cd4c",
                "buildTime": "2024-03-01T10:00:00.000",
                "serverDate": "2024-05-02T08:30:00.000",
                "systemName": "Fake DHIS 2",
            }
        )

    async def me(self, request: Request) -> Response:
        refused = await self._admit(request)
        return refused or JSONResponse({"username": USERNAME, "name": "John Traore"})

    async def metadata_list(self, request: Request) -> Response:
        refused = await self._admit(request)
        if refused:
            return refused
        resource = request.path_params["resource"]
        known = self.metadata.resource(resource)
        match = re.match(r"^id:in:\[(.*)\]$", request.query_params.get("filter", ""))
        wanted = match.group(1).split(",") if match else sorted(known)
        return JSONResponse({resource: [{"id": uid} for uid in wanted if uid in known]})

    async def data_value_sets(self, request: Request) -> Response:
        refused = await self._admit(request)
        if refused:
            return refused
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return _web_message(400, "ERROR", "Invalid JSON payload")
        dry_run = request.query_params.get("dryRun") == "true"
        strategy = request.query_params.get("importStrategy", "CREATE_AND_UPDATE")
        counts = {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0}
        conflicts: list[dict[str, Any]] = []
        rejected: list[int] = []
        dataset = payload.get("dataSet")
        status = "SUCCESS"
        if dataset and dataset not in self.metadata.data_sets:
            counts["ignored"] = len(payload.get("dataValues", []))
            conflicts.append(
                _conflict(dataset, "dataSet", "E7600", f"Data set not found or not accessible: `{dataset}`", [])
            )
            status = "ERROR"
        else:
            for index, value in enumerate(payload.get("dataValues", [])):
                problem = self._check_value(value, payload)
                if problem is not None:
                    counts["ignored"] += 1
                    rejected.append(index)
                    conflicts.append({**problem, "indexes": [index]})
                    continue
                key = (
                    value["dataElement"],
                    value.get("period", payload.get("period")),
                    value.get("orgUnit", payload.get("orgUnit")),
                    value.get("categoryOptionCombo") or DEFAULT_COC,
                    value.get("attributeOptionCombo", payload.get("attributeOptionCombo")) or DEFAULT_COC,
                )
                old = self.values.get(key)
                if strategy == "DELETE":
                    counts["deleted" if old is not None else "ignored"] += 1
                    if not dry_run:
                        self.values.pop(key, None)
                    continue
                if old is None:
                    counts["imported"] += 1
                elif old == str(value["value"]):
                    counts["ignored"] += 1
                else:
                    counts["updated"] += 1
                if not dry_run:
                    self.values[key] = str(value["value"])
            if conflicts:
                status = "WARNING"
        summary = {
            "responseType": "ImportSummary",
            "status": status,
            "importOptions": {"idSchemes": {}, "dryRun": dry_run, "importStrategy": strategy},
            "description": "Import process completed successfully" if status != "ERROR" else "Import process failed",
            "importCount": counts,
            "conflicts": conflicts,
            "rejectedIndexes": rejected,
            "dataSetComplete": str(payload.get("completeDate") or "false"),
        }
        if self.legacy:
            summary.pop("rejectedIndexes")
            for c in summary["conflicts"]:
                for k in ("objects", "errorCode", "property", "indexes"):
                    c.pop(k, None)
            return JSONResponse(summary, status_code=200)
        if status == "SUCCESS":
            return _web_message(200, "OK", "Import was successful.", summary)
        if status == "ERROR":
            return _web_message(409, "ERROR", "An error occurred, please check import summary.", summary)
        return _web_message(409, "WARNING", "One more conflicts encountered, please check import summary.", summary)

    def _check_value(self, value: dict[str, Any], top: dict[str, Any]) -> dict[str, Any] | None:
        md = self.metadata
        element = value.get("dataElement")
        period = value.get("period", top.get("period"))
        org_unit = value.get("orgUnit", top.get("orgUnit"))
        coc = value.get("categoryOptionCombo") or DEFAULT_COC
        aoc = value.get("attributeOptionCombo", top.get("attributeOptionCombo")) or DEFAULT_COC
        if element not in md.data_elements:
            return _conflict(element, "dataElement", "E7610", f"Data element not found or not accessible: `{element}`")
        if not isinstance(period, str) or not PERIOD.match(period):
            return _conflict(period, "period", "E7611", f"Period not valid: `{period}`")
        if org_unit not in md.org_units:
            return _conflict(
                org_unit, "orgUnit", "E7612", f"Organisation unit not found or not accessible: `{org_unit}`"
            )
        if coc not in md.category_option_combos:
            return _conflict(
                coc,
                "categoryOptionCombo",
                "E7613",
                f"Category option combo not found or not accessible for writing data: `{coc}`",
            )
        if aoc not in md.category_option_combos:
            return _conflict(
                aoc,
                "attributeOptionCombo",
                "E7615",
                f"Attribute option combo not found or not accessible for writing data: `{aoc}`",
            )
        kind = md.data_elements[element]
        text = str(value.get("value"))
        if (kind == "INTEGER" and not re.match(r"^(0|-?[1-9]\d*)$", text)) or (
            kind == "NUMBER" and not re.match(r"^-?\d+(\.\d+)?$", text)
        ):
            reason = "value_not_integer" if kind == "INTEGER" else "value_not_numeric"
            return _conflict(
                element, "value", "E7619", f"Value must match data element's `{element}` type constraints: {reason}"
            )
        return None

    async def tracker(self, request: Request) -> Response:
        refused = await self._admit(request)
        if refused:
            return refused
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return _web_message(400, "ERROR", "Invalid JSON payload")
        report = import_tracker(payload, self.metadata, self.tracked, request.query_params.get("atomicMode", "ALL"))
        if request.query_params.get("async", "true") == "false":
            return JSONResponse(report, status_code=409 if report["status"] == "ERROR" else 200)
        job = new_uid()
        self._jobs[job] = {"polls": 0, "report": report}
        location = f"{self.url}/api/tracker/jobs/{job}"
        return _web_message(
            200, "OK", "Tracker job added", {"responseType": "TrackerJob", "id": job, "location": location}
        )

    async def job(self, request: Request) -> Response:
        refused = await self._admit(request)
        if refused:
            return refused
        job = self._jobs.get(request.path_params["job"])
        if job is None:
            return _web_message(404, "ERROR", f"Job with id `{request.path_params['job']}` not found")
        job["polls"] += 1
        done = job["polls"] >= self.job_polls
        uid = request.path_params["job"]
        notifications = [
            {
                "uid": new_uid(),
                "level": "INFO",
                "category": "TRACKER_IMPORT_JOB",
                "time": "2024-05-02T08:30:00.000",
                "message": "Import:Start",
                "completed": True,
                "id": uid,
            }
        ]
        if done:
            notifications.insert(0, {**notifications[0], "uid": new_uid(), "message": "Import:Done", "completed": True})
        else:
            notifications[0]["completed"] = False
        return JSONResponse(notifications)

    async def job_report(self, request: Request) -> Response:
        refused = await self._admit(request)
        if refused:
            return refused
        job = self._jobs.get(request.path_params["job"])
        if job is None or job["polls"] < self.job_polls:
            return _web_message(404, "ERROR", f"Summary for job with id `{request.path_params['job']}` does not exist")
        return JSONResponse(job["report"])


def _conflict(obj: Any, prop: str, code: str, message: str, indexes: list[int] | None = None) -> dict[str, Any]:
    conflict = {"object": obj, "objects": {prop: obj}, "value": message, "errorCode": code, "property": prop}
    if indexes is not None:
        conflict["indexes"] = indexes
    return conflict


def _web_message(status: int, state: str, message: str, response: dict[str, Any] | None = None) -> JSONResponse:
    names = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 409: "Conflict"}
    names.update({500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"})
    body: dict[str, Any] = {
        "httpStatus": names.get(status, "Error"),
        "httpStatusCode": status,
        "status": state,
        "message": message,
    }
    if response is not None:
        body["response"] = response
    return JSONResponse(body, status_code=status)


def _unauthorized() -> JSONResponse:
    return _web_message(401, "ERROR", "Unauthorized")


@asynccontextmanager
async def running_fake_dhis2(**options: Any) -> AsyncIterator[FakeDHIS2]:
    """Serve a ``FakeDHIS2`` on a free loopback port for the duration of the block."""
    fake = FakeDHIS2(**options)
    async with serving(fake.app()) as base:
        fake.url = base
        yield fake
