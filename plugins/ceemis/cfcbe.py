"""CFCBE's case URLs (``[plugins.ceemis.cfcbe]``): the helpline, CEEMIS and EEMIS keep posting where they did.

Each path (with or without its trailing slash) is served by what already does the job here:

| CFCBE | here |
| --- | --- |
| ``POST <prefix>/webhook/helpline/case/ceemis/`` | the ``helpline`` adapter (a case to create) |
| ``PUT <prefix>/webhook/helpline/case/ceemis/update/`` | the ``helpline`` adapter (an update: ``ref`` required) |
| ``POST <prefix>/webhook/ceemis/create/`` | the ``ceemis`` adapter (cases made in CEEMIS) |
| ``POST <prefix>/webhook/eemis`` | the ``eemis`` adapter |
| ``GET <prefix>/case/status/<reference>/`` | ``/plugins/ceemis/cases/<reference>`` |

See docs/ceemis.md, "Moving from CFCBE".
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute, Route

from core import at_root, webhook_route
from plugins.ceemis.routes import case_status
from plugins.ceemis.settings import CFCBESettings

# (CFCBE's path under the prefix, the adapter serving it, the method CFCBE took)
WEBHOOKS: Sequence[tuple[str, str, str]] = (
    ("/webhook/helpline/case/ceemis/", "helpline", "POST"),
    ("/webhook/helpline/case/ceemis/update/", "helpline", "PUT"),
    ("/webhook/ceemis/create/", "ceemis", "POST"),
    ("/webhook/eemis/", "eemis", "POST"),
)


def _both(path: str) -> tuple[str, str]:
    """The path with its trailing slash and without: CFCBE's clients wrote either."""
    return path, path.rstrip("/")


def cfcbe_routes(settings: CFCBESettings) -> list[BaseRoute]:
    """CFCBE's case routes (``at_root``), or nothing when off."""
    if not settings.enabled:
        return []
    p = settings.prefix
    routes: list[BaseRoute] = [
        webhook_route(path, platform, methods=[method])
        for suffix, platform, method in WEBHOOKS
        for path in _both(p + suffix)
    ]
    routes += [Route(path, case_status, methods=["GET"]) for path in _both(f"{p}/case/status/{{reference}}/")]
    return [at_root(routes)]
