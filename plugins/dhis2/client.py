"""Talking to one DHIS2 instance: its URLs, its credentials, and the few calls the plugin makes."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from core import Gateway
    from plugins.dhis2.settings import InstanceSettings


class DHIS2Client:
    """The Web API of one configured instance, over the gateway's shared HTTP client."""

    def __init__(self, name: str, settings: InstanceSettings, gateway: Gateway) -> None:
        self.name = name
        self.settings = settings
        self.gateway = gateway
        base = str(settings.base_url).rstrip("/")
        version = f"/{settings.api_version}" if settings.api_version else ""
        self.api = f"{base}/api{version}"

    def url(self, path: str) -> str:
        """``/dataValueSets`` → ``https://dhis2.example.org/api/40/dataValueSets``."""
        return self.api + path

    @property
    def headers(self) -> dict[str, str]:
        s = self.settings
        if s.token:
            authorization = f"ApiToken {s.token}"
        else:
            pair = f"{s.username}:{s.password}".encode()
            authorization = "Basic " + base64.b64encode(pair).decode()
        return {"Authorization": authorization, "Accept": "application/json"}

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        return await self.gateway.http.get(
            self.url(path), params=params, headers=self.headers, timeout=httpx.Timeout(self.settings.timeout)
        )

    async def post_json(
        self, path: str, body: bytes, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        return await self.gateway.http.post(
            self.url(path),
            content=body,
            params=params,
            headers={**self.headers, "Content-Type": "application/json", **(headers or {})},
            timeout=httpx.Timeout(self.settings.timeout),
        )

    def data_value_set_params(self) -> dict[str, str]:
        """The configured import parameters of ``POST /api/dataValueSets``."""
        s = self.settings
        params = {"importStrategy": s.import_strategy, "dryRun": "true" if s.dry_run else "false"}
        for key, value in (
            ("idScheme", s.id_scheme),
            ("dataElementIdScheme", s.data_element_id_scheme),
            ("orgUnitIdScheme", s.org_unit_id_scheme),
        ):
            if value:
                params[key] = value
        return params

    async def existing_ids(self, resource: str, ids: list[str]) -> set[str]:
        """Which of ``ids`` exist as ``resource`` (``dataElements``, ``categoryOptionCombos``…)."""
        found: set[str] = set()
        # 100 uids keep the query string well under any proxy's URL limit.
        for i in range(0, len(ids), 100):
            chunk = ids[i : i + 100]
            response = await self.get(
                f"/{resource}", {"filter": f"id:in:[{','.join(chunk)}]", "fields": "id", "paging": "false"}
            )
            response.raise_for_status()
            found.update(item["id"] for item in response.json().get(resource, []) if isinstance(item, dict))
        return found
