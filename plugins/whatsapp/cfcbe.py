"""CFCBE's WhatsApp webhook URL (``[plugins.whatsapp.cfcbe]``): Meta keeps posting where it did.

CFCBE took WhatsApp's webhook at ``<prefix>/webhook/whatsapp/``; with this on, that path (with
or without its trailing slash) is the same adapter as ``/webhooks/whatsapp``: the GET
handshake, the signature check, the messages and statuses. See docs/whatsapp.md.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from core import at_root, webhook_route
from plugins.whatsapp.settings import CFCBESettings


def cfcbe_routes(settings: CFCBESettings) -> list[BaseRoute]:
    """The webhook at CFCBE's path (``at_root``), or nothing when off."""
    if not settings.enabled:
        return []
    base = f"{settings.prefix}/webhook/whatsapp"
    return [at_root([webhook_route(path, "whatsapp", methods=["GET", "POST"]) for path in (f"{base}/", base)])]
