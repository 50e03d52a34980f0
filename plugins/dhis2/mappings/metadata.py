"""Checking mapping uids against a DHIS2 instance (``filter=id:in:[…]``), with a cache of what exists.

Only uids found to exist are remembered (for ``metadata_cache_ttl`` seconds): a uid that
was missing is asked about again next time, since someone may have just created it. The
cache is a per-process shortcut; every process can rebuild it from DHIS2.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from plugins.dhis2.client import DHIS2Client

# What each mapping column refers to, as a DHIS2 metadata resource.
RESOURCES = {
    "dataset": "dataSets",
    "dataelement": "dataElements",
    "category_option_combo": "categoryOptionCombos",
    "attribute_option_combo": "categoryOptionCombos",
    "category_option": "categoryOptions",
    "category_combo": "categoryCombos",
    "org_unit": "organisationUnits",
    "destination_orgunit": "organisationUnits",
}


class MetadataCache:
    """uids known to exist, per instance and resource, until they expire."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._known: dict[tuple[str, str, str], float] = {}

    async def missing(self, client: DHIS2Client, resource: str, uids: Iterable[str]) -> set[str]:
        """Which of ``uids`` the instance does not have as ``resource`` (asking only about unknown ones)."""
        now = time.monotonic()
        wanted = set(uids)
        unknown = sorted(u for u in wanted if self._known.get((client.name, resource, u), 0.0) <= now)
        if not unknown:
            return set()
        found = await client.existing_ids(resource, unknown)
        if self.ttl > 0:
            expires = now + self.ttl
            for uid in found:
                self._known[(client.name, resource, uid)] = expires
        return set(unknown) - found


# Mapping fields to check, with the file column each comes from.
_DATA_VALUE_FIELDS = (
    ("dataset", "dataset"),
    ("data_element", "dataelement"),
    ("category_option_combo", "category_option_combo"),
    ("attribute_option_combo", "attribute_option_combo"),
    ("category_option", "category_option"),
    ("category_combo", "category_combo"),
)


async def verify_rows(
    cache: MetadataCache,
    data_values: list[dict[str, Any]],
    org_units: list[dict[str, Any]],
    client_for: Callable[[str | None], DHIS2Client],
) -> list[dict[str, Any]]:
    """Row errors for every uid of these mapping rows that its instance does not have."""
    wanted: dict[tuple[str, str], dict[str, list[tuple[int, str]]]] = {}

    def want(client: DHIS2Client, column: str, uid: str | None, row: int) -> None:
        if uid:
            key = (client.name, RESOURCES[column])
            wanted.setdefault(key, {}).setdefault(uid, []).append((row, column))

    clients: dict[str, DHIS2Client] = {}
    for item in data_values:
        client = client_for(item.get("instance_name"))
        clients[client.name] = client
        for name, column in _DATA_VALUE_FIELDS:
            want(client, column, item.get(name), item["_row"])
    for item in org_units:
        client = client_for(item.get("instance") or None)
        clients[client.name] = client
        want(client, item["_org_unit_column"], item["org_unit"], item["_row"])
    errors: list[dict[str, Any]] = []
    for (instance, resource), uses in wanted.items():
        for uid in sorted(await cache.missing(clients[instance], resource, uses)):
            for row, column in uses[uid]:
                errors.append(
                    {
                        "row": row,
                        "column": column,
                        "cell": None,
                        "message": f"{uid} is not among the {resource} of DHIS2 instance {instance!r}",
                    }
                )
    return sorted(errors, key=lambda e: (e["row"], e["column"]))
