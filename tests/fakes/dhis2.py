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
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import string
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.receiver import free_port

TOKEN = "d2pat_fakeTokenForTests0123456789abcdef0000000000"
USERNAME, PASSWORD = "admin", "district"
DEFAULT_COC = "HllvX50cXC0"

DATA_SET = "pBOMPrpg1QX"  # "Reproductive Health"
ANC_1ST = "fbfJHSPpUQD"
ANC_2ND = "cYeuwXTCPkU"
ANC_3RD = "Jtf34kNZhzP"
ANC_REMARKS = "ZZYzWy6Aw8x"  # a TEXT data element
FIXED, OUTREACH = "PT59n8BQbqM", "pq2XI5kz2BY"
NGELEHUN, BO = "DiszpKrYNg8", "O6uvpzGd5pu"
CHILD_PROGRAMME, BIRTH_STAGE = "IpHINAT79UW", "A03MvHHogjR"
PERSON = "nEenWmSyUEp"
WEIGHT = "UXz7xuGCEhU"


@dataclass
class Metadata:
    data_sets: set[str] = field(default_factory=lambda: {DATA_SET})
    # data element → value type
    data_elements: dict[str, str] = field(
        default_factory=lambda: {
            ANC_1ST: "INTEGER",
            ANC_2ND: "INTEGER",
            ANC_3RD: "INTEGER",
            ANC_REMARKS: "TEXT",
            WEIGHT: "NUMBER",
        }
    )
    category_option_combos: set[str] = field(default_factory=lambda: {DEFAULT_COC, FIXED, OUTREACH})
    org_units: set[str] = field(default_factory=lambda: {NGELEHUN, BO})
    programs: set[str] = field(default_factory=lambda: {CHILD_PROGRAMME})
    program_stages: set[str] = field(default_factory=lambda: {BIRTH_STAGE})
    tracked_entity_types: set[str] = field(default_factory=lambda: {PERSON})

    def resource(self, name: str) -> set[str]:
        return {
            "dataSets": self.data_sets,
            "dataElements": set(self.data_elements),
            "categoryOptionCombos": self.category_option_combos,
            "organisationUnits": self.org_units,
            "categoryOptions": set(),
            "categoryCombos": set(),
        }.get(name, set())


@dataclass
class Received:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


_PERIOD = re.compile(
    r"^\d{4}(\d{2}(\d{2})?|(0[1-6])B|Q[1-4]|NovQ[1-4]|S[12]|AprilS[12]|NovS[12]|(W|WedW|ThuW|SatW|SunW|BiW)\d{1,2}"
    r"|April|July|Sep|Oct|Nov)?$"
)


def _uid() -> str:
    alphabet = string.ascii_letters + string.digits
    return secrets.choice(string.ascii_letters) + "".join(secrets.choice(alphabet) for _ in range(10))


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
        if not isinstance(period, str) or not _PERIOD.match(period):
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
        report = self._import_tracker(payload, request.query_params.get("atomicMode", "ALL"))
        if request.query_params.get("async", "true") == "false":
            return JSONResponse(report, status_code=409 if report["status"] == "ERROR" else 200)
        job = _uid()
        self._jobs[job] = {"polls": 0, "report": report}
        location = f"{self.url}/api/tracker/jobs/{job}"
        return _web_message(
            200, "OK", "Tracker job added", {"responseType": "TrackerJob", "id": job, "location": location}
        )

    def _import_tracker(self, payload: dict[str, Any], atomic_mode: str) -> dict[str, Any]:
        md = self.metadata
        errors: list[dict[str, Any]] = []
        objects: list[tuple[str, dict[str, Any]]] = []

        def walk(collection: str, items: list[Any]) -> None:
            for item in items or []:
                objects.append((collection, item))
                for child in ("enrollments", "events", "relationships"):
                    if child in item:
                        walk(child, item[child])

        for collection in ("trackedEntities", "enrollments", "events", "relationships"):
            walk(collection, payload.get(collection, []))
        kinds = {"trackedEntities": "TRACKED_ENTITY", "enrollments": "ENROLLMENT", "events": "EVENT"}
        kinds["relationships"] = "RELATIONSHIP"
        own = {"trackedEntities": "trackedEntity", "enrollments": "enrollment", "events": "event"}
        own["relationships"] = "relationship"
        for collection, item in objects:
            uid = item.get(own[collection]) or _uid()
            item[own[collection]] = uid

            def error(code: str, message: str, *, _c: str = collection, _u: str = uid) -> None:
                errors.append({"message": message, "errorCode": code, "trackerType": kinds[_c], "uid": _u})

            if collection == "trackedEntities":
                if item.get("trackedEntityType") not in md.tracked_entity_types:
                    error("E1005", f"Could not find TrackedEntityType: `{item.get('trackedEntityType')}`.")
                if item.get("orgUnit") not in md.org_units:
                    error(
                        "E1049", f"Could not find OrganisationUnit: `{item.get('orgUnit')}`, linked to Tracked Entity."
                    )
            elif collection == "enrollments":
                if item.get("program") not in md.programs:
                    error("E1069", f"Could not find Program: `{item.get('program')}`, linked to Enrollment.")
                if item.get("orgUnit") not in md.org_units:
                    error("E1070", f"Could not find OrganisationUnit: `{item.get('orgUnit')}`, linked to Enrollment.")
            elif collection == "events":
                if item.get("program") not in md.programs:
                    error("E1010", f"Could not find Program: `{item.get('program')}`, linked to Event.")
                if item.get("programStage") not in md.program_stages:
                    error("E1013", f"Could not find ProgramStage: `{item.get('programStage')}`, linked to Event.")
                if item.get("orgUnit") not in md.org_units:
                    error("E1011", f"Could not find OrganisationUnit: `{item.get('orgUnit')}`, linked to Event.")
                for dv in item.get("dataValues", []):
                    if dv.get("dataElement") not in md.data_elements:
                        error("E1304", f"Could not find DataElement: `{dv.get('dataElement')}`.")
        stats = {"created": 0, "updated": 0, "deleted": 0, "ignored": 0, "total": len(objects)}
        failed = {e["uid"] for e in errors}
        for collection, item in objects:
            uid = item[own[collection]]
            if errors and atomic_mode == "ALL" or uid in failed:
                stats["ignored"] += 1
                continue
            stats["updated" if uid in self.tracked else "created"] += 1
            self.tracked[uid] = {k: v for k, v in item.items() if k not in ("enrollments", "events", "relationships")}
        return {
            "status": "ERROR" if errors else "OK",
            "validationReport": {"errorReports": errors, "warningReports": []},
            "stats": stats,
            "bundleReport": {"status": "ERROR" if errors else "OK", "stats": stats},
        }

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
                "uid": _uid(),
                "level": "INFO",
                "category": "TRACKER_IMPORT_JOB",
                "time": "2024-05-02T08:30:00.000",
                "message": "Import:Start",
                "completed": True,
                "id": uid,
            }
        ]
        if done:
            notifications.insert(0, {**notifications[0], "uid": _uid(), "message": "Import:Done", "completed": True})
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
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        server.should_exit = True
        await task
