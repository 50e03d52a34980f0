"""What the plugin's endpoints share within one app: settings, instance clients, the metadata cache."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core import HTTPError, Unprocessable
from plugins.dhis2.client import DHIS2Client
from plugins.dhis2.mappings.metadata import MetadataCache

if TYPE_CHECKING:
    from core import Gateway
    from plugins.dhis2.settings import DHIS2Settings


class DHIS2Context:
    """One per app (built by ``switchboard_routes``): nothing is kept at module level."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.settings: DHIS2Settings = gateway.plugin_config("dhis2")
        self.metadata = MetadataCache(self.settings.metadata_cache_ttl)
        self._clients: dict[str, DHIS2Client] = {}

    def client(self, instance: str) -> DHIS2Client:
        if instance not in self._clients:
            self._clients[instance] = DHIS2Client(instance, self.settings.instances[instance], self.gateway)
        return self._clients[instance]

    def instance_for(self, requested: str | None) -> str:
        """The instance a request goes to: the one it names, else the default; an HTTP error otherwise."""
        instances = self.settings.instances
        if not instances:
            raise HTTPError("no DHIS2 instance is configured ([plugins.dhis2.instances.<name>])", status_code=503)
        if requested:
            if requested not in instances:
                raise Unprocessable(
                    f"unknown DHIS2 instance {requested!r}",
                    errors=[{"field": "instance", "message": f"expected one of {', '.join(sorted(instances))}"}],
                )
            return requested
        default = self.settings.default_instance_name
        if default is None:
            raise Unprocessable(
                "several DHIS2 instances are configured and none is the default: name one",
                errors=[{"field": "instance", "message": f"expected one of {', '.join(sorted(instances))}"}],
            )
        return default

    def client_for_mapping(self, instance_name: str | None, fallback: str) -> DHIS2Client:
        """The client for a mapping row's instance column: that instance if configured, else ``fallback``."""
        if instance_name and instance_name in self.settings.instances:
            return self.client(instance_name)
        return self.client(fallback)
