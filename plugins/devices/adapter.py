"""``POST /webhooks/devices``: a device uploads a batch of readings with its own API key."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core import Adapter, AuthenticationError, Gateway, StandardMessage, Stored
from plugins.devices.core_keys import PLATFORM, SCOPE
from plugins.devices.registry import device_of_key
from plugins.devices.settings import DevicesSettings
from plugins.devices.uploads import Upload, store_upload
from plugins.devices.validation import readings_of


class UploadMessages(list[StandardMessage]):
    """What ``parse`` returns: the messages for the core, carrying the per-item answer to ``respond``."""

    def __init__(self, upload: Upload) -> None:
        super().__init__(upload.messages)
        self.upload = upload


async def device_of_request(gateway: Gateway, request: Request) -> Any:
    """The active device whose key signed this request, or an ``AuthenticationError``."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise AuthenticationError("a device API key is required (X-API-Key or Authorization: Bearer)")
    if principal.kind != "api_key" or not principal.has_scope(SCOPE):
        raise AuthenticationError(f"this credential may not upload readings (needs {SCOPE})", status_code=403)
    async with gateway.db.transaction() as conn:
        device = await device_of_key(conn, uuid.UUID(principal.id))
    if device is None:
        raise AuthenticationError("this API key belongs to no registered device", status_code=403)
    if device.status == "inactive":
        raise AuthenticationError("this device is deactivated", status_code=403)
    return device


class DevicesAdapter(Adapter):
    """Readings in, one standard message of kind ``reading`` per valid reading out."""

    name = PLATFORM
    redact_keys = ("subject",)

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    @property
    def settings(self) -> DevicesSettings:
        return self.gateway.plugin_config(PLATFORM)  # type: ignore[no-any-return]

    async def authenticate(self, request: Request, body: bytes) -> None:
        request.state.device = await device_of_request(self.gateway, request)

    async def parse(self, request: Request, body: bytes) -> list[StandardMessage]:
        items = readings_of(body, self.settings.max_readings)
        upload = await store_upload(self.gateway, self.settings, request.state.device, items)
        return UploadMessages(upload)

    def respond(self, messages: list[StandardMessage], *, stored: Sequence[Stored] = ()) -> Response | None:
        if isinstance(messages, UploadMessages):
            return JSONResponse(messages.upload.answer())
        return None
