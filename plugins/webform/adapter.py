"""The adapter ``webform`` (``/webhooks/webform``): a submission of a form, by a verified user.

The caller carries the form token of ``/plugins/webform/auth/verify-otp`` (``Authorization:
Bearer`` or a ``token`` field). The body is JSON or a form (urlencoded or multipart, with
files). Files become the message's ``media`` and their bytes ride inline, base64, in
``extra["attachments"]``, so any destination can pass them on without reaching back to the
gateway; ``max_attachments`` × ``max_attachment_bytes`` keep that small.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from core import (
    Adapter,
    AuthenticationError,
    BadRequest,
    Gateway,
    HTTPError,
    InvalidToken,
    StandardMessage,
    parse_json,
    uuid7,
    verify_token,
)
from plugins.webform import cors, organisations
from plugins.webform.otp import AUDIENCE

NAME = "webform"
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
# Fields that name the message rather than being answers of the form.
_TEXT_FIELDS = ("message", "text", "body", "description")


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


class WebformAdapter(Adapter):
    """Submissions of the organisations' public forms."""

    name = NAME
    redact_keys = ("email", "name", "phone", "message", "text", "body", "description", "address")

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def preflight(self, request: Request) -> Response | None:
        return await cors.preflight(request)

    async def response_headers(self, request: Request) -> dict[str, str]:
        return await cors.headers_for(request)

    async def authenticate(self, request: Request, body: bytes) -> None:
        try:
            await self._authenticate(request, body)
        except BaseException:
            await close_form(request)
            raise

    async def _authenticate(self, request: Request, body: bytes) -> None:
        """The form token: signed by the gateway for ``webform``, of a known organisation whose
        origins include the request's ``Origin``."""
        token = await self._token(request, body)
        if not token:
            raise AuthenticationError("a form token is required (POST /plugins/webform/auth/verify-otp)")
        try:
            claims = verify_token(self.gateway, token, audience=AUDIENCE)
        except InvalidToken as err:
            raise AuthenticationError("invalid or expired form token") from err
        slug = claims.get("org")
        org = await organisations.find(self.gateway, slug) if isinstance(slug, str) else None
        if org is None:
            raise AuthenticationError("the form token's organisation no longer exists", status_code=403)
        if not cors.origin_allowed(request, org.origins):
            raise AuthenticationError("this origin may not post forms of this organisation", status_code=403)
        request.state.webform = (org, str(claims["sub"]), str(claims["jti"]))

    async def _token(self, request: Request, body: bytes) -> str | None:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            return credential.strip()
        kind = _content_type(request)
        if kind in _FORM_TYPES:
            value = (await self._form(request)).get("token")
            return value if isinstance(value, str) else None
        if kind == "application/json" and body.strip():
            data = _json_object(body)
            value = data.get("token")
            return value if isinstance(value, str) else None
        return None

    async def _form(self, request: Request) -> Any:
        settings = organisations.settings_of(self.gateway)
        form = getattr(request.state, "form", None)
        if form is not None:
            return form
        try:
            request.state.form = await request.form(max_files=settings.max_attachments + 1, max_fields=200)
            return request.state.form
        except HTTPError:
            raise
        except Exception as err:  # starlette's MultiPartException / HTTPException for a broken form
            raise BadRequest(f"malformed form body: {getattr(err, 'detail', err)}") from err

    async def parse(self, request: Request, body: bytes) -> list[StandardMessage]:
        try:
            return await self._parse(request, body)
        finally:
            await close_form(request)

    async def _parse(self, request: Request, body: bytes) -> list[StandardMessage]:
        org, email, _jti = request.state.webform
        kind = _content_type(request)
        files: list[UploadFile] = []
        if kind in _FORM_TYPES:
            form = await self._form(request)
            fields: dict[str, Any] = {}
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    if value.filename:
                        files.append(value)
                elif key != "token":
                    fields[key] = value if key not in fields else [*_as_list(fields[key]), value]
        elif kind == "application/json" or kind.endswith("+json"):
            fields = {k: v for k, v in _json_object(body).items() if k != "token"}
        else:
            raise HTTPError("expected JSON or a form (multipart/form-data)", status_code=415)
        attachments = await self._attachments(files)
        text = next((fields[k] for k in _TEXT_FIELDS if isinstance(fields.get(k), str)), None)
        submission = fields.pop("submission_id", None)
        external_id = (
            "sub:" + hashlib.sha256(f"{org.slug}\0{email}\0{submission}".encode()).hexdigest()
            if isinstance(submission, str) and submission
            else f"form:{uuid7()}"
        )
        name = fields.get("name")
        return [
            StandardMessage(
                platform=NAME,
                external_id=external_id,
                kind="form",
                sender=email,
                sender_name=name if isinstance(name, str) else None,
                text=text,
                media=[
                    {"id": a["sha256"], "sha256": a["sha256"], "mime_type": a["mime_type"], "filename": a["filename"]}
                    for a in attachments
                ],
                conversation_key=f"{org.slug}:{email}",
                raw={"fields": fields, "attachments": [{k: v for k, v in a.items() if k != "content"} for a in attachments]},
                extra={
                    "organisation": org.slug,
                    "organisation_name": org.name,
                    "email": email,
                    "fields": fields,
                    "attachments": attachments,
                },
            )
        ]

    async def _attachments(self, files: list[UploadFile]) -> list[dict[str, Any]]:
        settings = organisations.settings_of(self.gateway)
        if len(files) > settings.max_attachments:
            raise HTTPError(f"at most {settings.max_attachments} attachments", status_code=413)
        allowed = {t.lower() for t in settings.attachment_types}
        out = []
        for upload in files:
            mime = (upload.content_type or "application/octet-stream").split(";")[0].strip().lower()
            if mime not in allowed:
                raise HTTPError(f"{upload.filename}: files of type {mime} are not accepted", status_code=415)
            content = await upload.read(settings.max_attachment_bytes + 1)
            if len(content) > settings.max_attachment_bytes:
                raise HTTPError(
                    f"{upload.filename}: larger than {settings.max_attachment_bytes} bytes", status_code=413
                )
            out.append(
                {
                    "filename": (upload.filename or "attachment")[-240:],
                    "mime_type": mime,
                    "size": len(content),
                    "sha256": hashlib.sha256(content).hexdigest(),
                    "content": base64.b64encode(content).decode("ascii"),
                }
            )
        return out


def _json_object(body: bytes) -> dict[str, Any]:
    data = parse_json(body)
    if not isinstance(data, dict):
        raise BadRequest("expected a JSON object")
    return data


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]



async def close_form(request: Request) -> None:
    """Close the spooled files of the request's form, if it was read."""
    form = getattr(request.state, "form", None)
    if form is not None:
        await form.close()
