"""Which destinations an inbound message goes to: ``[[routes]]`` plus the routing hook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.messages import StandardMessage

if TYPE_CHECKING:
    from core.gateway import Gateway


class Router:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.routes = gateway.settings.routes
        self._has_hook = bool(gateway.plugins.pm.hook.switchboard_route_message.get_hookimpls())

    def destinations_for(self, message: StandardMessage) -> list[str]:
        names: list[str] = []
        if message.direction == "in":
            for route in self.routes:
                if route.source != message.platform:
                    continue
                if route.kinds is not None and message.kind not in route.kinds:
                    continue
                names.extend(route.destinations)
        if self._has_hook:
            for extra in self.gateway.plugins.pm.hook.switchboard_route_message(message=message, gateway=self.gateway):
                names.extend(extra or [])
        return list(dict.fromkeys(names))  # de-duplicated, in order
