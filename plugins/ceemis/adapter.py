"""The inbound adapters: ``helpline`` (cases for CEEMIS), ``ceemis`` and ``eemis`` (cases made there)."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, ClassVar

from core import Adapter, AuthenticationError, StandardMessage, Unprocessable, constant_time_equal
from plugins.ceemis import payloads, store

if TYPE_CHECKING:
    from starlette.requests import Request

    from core import Gateway
    from plugins.ceemis.settings import CEEMISSettings

# Names, phone numbers, documents and stories in the payloads: never in the audit log.
PERSONAL = (
    "fname",
    "phone",
    "email",
    "national_id",
    "passport",
    "narrative",
    "src_address",
    "employer",
    "mw_",
    "emp_",
    "name",
)


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` (``sha256=<hex>`` or the bare hex) is the HMAC-SHA256 of ``body``, in constant time."""
    given = header.strip()
    if given.lower().startswith("sha256="):
        given = given[7:]
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return constant_time_equal(given.lower(), expected)


class _CaseAdapter(Adapter):
    redact_keys: ClassVar[tuple[str, ...]] = PERSONAL

    def __init__(self, gateway: Gateway, settings: CEEMISSettings) -> None:
        self.gateway = gateway
        self.settings = settings

    async def authenticate(self, request: Request, body: bytes) -> None:
        """An HMAC signature when ``[plugins.ceemis.webhooks.<name>] secret`` is set, else an API key
        bound to this platform (the core's default)."""
        webhook = self.settings.webhook(self.name)
        if webhook.secret is None:
            await super().authenticate(request, body)
            return
        header = request.headers.get(webhook.signature_header)
        if not header:
            raise AuthenticationError(f"missing {webhook.signature_header}")
        if not signature_matches(webhook.secret, body, header):
            raise AuthenticationError(f"invalid {webhook.signature_header}")


class HelplineAdapter(_CaseAdapter):
    """``/webhooks/helpline``: a case to create in CEEMIS, or an update of one (it has ``ref``)."""

    name = payloads.HELPLINE

    async def parse(self, request: Request, body: bytes) -> list[StandardMessage]:
        """One case create or update; 422 naming every missing or wrong field."""
        data = payloads.json_object(body, "helpline case")
        if request.method == "PUT" and "ref" not in data:
            # CFCBE's update URL (plugins/ceemis/cfcbe.py) takes updates only: never a new case.
            raise Unprocessable("invalid case update", errors=[{"field": "ref", "message": "an update names its case"}])
        case = payloads.validate_case(data)
        async with self.gateway.db.transaction() as conn:
            if isinstance(case, payloads.CaseCreate):
                message = payloads.create_message(case, data)
            else:
                known = await store.find_case(conn, case.ref)
                message = payloads.update_message(case, data, known.src_uid if known else None)
            await store.receive(conn, message)
        return [message]


class CEEMISAdapter(_CaseAdapter):
    """``/webhooks/ceemis``: cases created in CEEMIS, as messages of kind ``case``."""

    name = "ceemis"

    async def parse(self, request: Request, body: bytes) -> list[StandardMessage]:
        """Each case in the body (an object or a list), deduplicated on its case id."""
        return payloads.remote_case_messages(self.name, body)


class EEMISAdapter(CEEMISAdapter):
    """``/webhooks/eemis``: cases created in EEMIS (the labour-migration system)."""

    name = "eemis"
