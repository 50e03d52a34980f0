"""A fake CEEMIS: a small real Starlette app served by uvicorn on loopback.

It speaks what CEEMIS speaks: ``POST /api/cases/create`` and ``POST /api/cases/update`` with a
``multipart/form-data`` body and a bearer token. A create needs ``mw_name``, ``mw_phone``,
``comp_category`` and ``mw_narative`` and is answered ``{"status": "success", "caseid":
"MGLSD000001"}``; an update needs ``caseid`` (a case it made), ``status`` and ``comp_category``
(CEEMIS validates the whole case again on an update). A missing field is
answered 400 with ``{"status": "error", "errors": {"mw_phone": ["This field is required."]}}``.
It can also fail with a status for some requests, or answer in plain text.

    async with running_fake_ceemis() as ceemis:
        ceemis.fail_with(503, times=1)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.support.serving import serving

TOKEN = "ceemis-test-token-0123456789"
CREATE_REQUIRED = ("mw_name", "mw_phone", "comp_category", "mw_narative")
UPDATE_REQUIRED = ("caseid", "status", "comp_category")


@dataclass
class Received:
    kind: str  # "create" | "update"
    content_type: str
    headers: dict[str, str]
    form: dict[str, str]
    status: int = 0  # what the fake answered


@dataclass
class Failure:
    status: int
    times: int | None
    when: Callable[[Received], bool]


@dataclass
class FakeCEEMIS:
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    cases: dict[str, dict[str, str]] = field(default_factory=dict)
    updates: list[dict[str, str]] = field(default_factory=list)
    answer_as_text: bool = False
    failures: list[Failure] = field(default_factory=list)

    @property
    def create_url(self) -> str:
        return f"{self.url}/api/cases/create"

    @property
    def update_url(self) -> str:
        return f"{self.url}/api/cases/update"

    def fail_with(self, status: int, times: int | None = 1, when: Callable[[Received], bool] | None = None) -> None:
        """Answer ``status`` to the next ``times`` requests (None: until ``heal``) that ``when`` accepts."""
        self.failures.append(Failure(status, times, when or (lambda _: True)))

    def heal(self) -> None:
        self.failures.clear()

    def answered(self, kind: str | None = None, status: int = 200) -> list[Received]:
        return [r for r in self.requests if r.status == status and (kind is None or r.kind == kind)]

    def _failure(self, received: Received) -> int | None:
        for failure in self.failures:
            if failure.times != 0 and failure.when(received):
                if failure.times is not None:
                    failure.times -= 1
                return failure.status
        return None

    async def handle(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        content_type = request.headers.get("content-type", "")
        received = Received(kind, content_type, dict(request.headers), {})
        self.requests.append(received)
        received.status = status = 200
        if not content_type.startswith("multipart/form-data"):
            received.status = 415
            return JSONResponse({"status": "error", "message": "multipart/form-data expected"}, status_code=415)
        async with request.form() as form:
            for name, value in form.multi_items():
                received.form[name] = value if not isinstance(value, UploadFile) else "<file>"
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            received.status = 401
            return JSONResponse({"status": "error", "message": "invalid token"}, status_code=401)
        failed = self._failure(received)
        if failed is not None:
            received.status = failed
            return JSONResponse({"status": "error", "message": f"fake CEEMIS says {failed}"}, status_code=failed)
        required = CREATE_REQUIRED if kind == "create" else UPDATE_REQUIRED
        errors = {name: ["This field is required."] for name in required if not received.form.get(name)}
        if kind == "update" and not errors and received.form["caseid"] not in self.cases:
            errors = {"caseid": ["No case with this id."]}
        if errors:
            received.status = 400
            return JSONResponse({"status": "error", "errors": errors}, status_code=400)
        if kind == "create":
            case_id = f"MGLSD{len(self.cases) + 1:06d}"
            self.cases[case_id] = dict(received.form)
        else:
            case_id = received.form["caseid"]
            self.updates.append(dict(received.form))
        received.status = status
        if self.answer_as_text:
            return PlainTextResponse(f"Case {case_id} saved successfully")
        return JSONResponse({"status": "success", "caseid": case_id, "message": "saved"})


@asynccontextmanager
async def running_fake_ceemis() -> AsyncIterator[FakeCEEMIS]:
    fake = FakeCEEMIS()
    app = Starlette(routes=[Route("/api/cases/{kind:str}", fake.handle, methods=["POST"])])
    async with serving(app) as base:
        fake.url = base
        yield fake
