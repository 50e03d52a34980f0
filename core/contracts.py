"""The plugin contracts: inbound adapters, outbound destinations, jobs and CLI commands.

Third-party plugins are written against these names. They may gain optional keyword
arguments; they never lose or rename one.
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from starlette.responses import Response

from core.errors import AuthenticationError, Unprocessable
from core.messages import StandardMessage

if TYPE_CHECKING:
    from starlette.requests import Request

    from core.gateway import Gateway
    from core.pipeline.stored_hooks import Stored


class Adapter:
    """An inbound platform, served at ``/webhooks/{name}``.

    Subclasses set ``name`` and implement ``parse``. The other methods have working
    defaults: no GET handshake (``verify`` answers 405), authentication by an API key bound
    to this platform (``authenticate``), and the core's JSON acknowledgement (``respond``).
    """

    name: ClassVar[str] = ""
    # Keys of this platform's payloads that hold personal data (phone numbers, message text):
    # redacted, beside ``[audit] redact_keys``, wherever the audit log captures a payload.
    redact_keys: ClassVar[tuple[str, ...]] = ()

    async def verify(self, request: Request) -> Response | None:
        """Answer a GET handshake (e.g. a subscription challenge); ``None``: no handshake."""
        return None

    async def authenticate(self, request: Request, body: bytes) -> None:
        """Check the request's signature or token over the exact ``body`` bytes.

        Raise ``AuthenticationError`` when it is missing or wrong. The default accepts an
        API key (``Authorization: Bearer`` or ``X-API-Key``) with the scope
        ``webhooks:<name>``, as resolved by the core's authentication. No user role implies that
        scope: a signed-in user's token, whatever its role, cannot post as a platform.
        """
        principal = getattr(request.state, "principal", None)
        if principal is None:
            raise AuthenticationError("an API key is required")
        if not principal.holds_scope(f"webhooks:{self.name}"):
            raise AuthenticationError("this key may not post to this platform", status_code=403)

    async def parse(self, request: Request, body: bytes) -> list[StandardMessage]:
        """Turn the request body into standard messages (an empty list is fine).

        Raise ``core.errors.BadRequest`` (or another ``HTTPError``) for a structurally
        invalid body; keep what cannot be understood as ``kind="unsupported"`` with ``raw``.
        """
        raise NotImplementedError(f"adapter {self.name!r} does not implement parse()")

    def respond(self, messages: list[StandardMessage], *, stored: Sequence[Stored] = ()) -> Response | None:
        """The answer to the platform; ``None`` for the core's default 200 JSON.

        ``stored`` says what became of each message, in order: its id, whether it was a
        duplicate (a platform's retry of a message stored already) and its deliveries. The
        core passes it only to an override that names it, so ``respond(self, messages)`` works.
        """
        return None

    async def preflight(self, request: Request) -> Response | None:
        """Answer an ``OPTIONS`` request (a browser's CORS preflight); ``None`` (default): 405.

        Only adapters posted to from web pages (a web form) need one.
        """
        return None

    async def response_headers(self, request: Request) -> dict[str, str]:
        """Headers added to every answer to a POST, errors included (CORS); default none."""
        return {}


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    """What a destination may know about the delivery it is performing.

    A requeue gives the delivery a fresh budget: ``attempt`` starts again at 1, ``max_attempts``
    is the new budget, ``previous_detail`` is ``None`` again, and ``requeues`` goes up by one.
    A destination that counts something per delivery in its own tables (real sends, say)
    starts counting again on the first attempt of a budget, so a requeue always makes a new
    attempt.
    """

    id: uuid.UUID
    destination: str
    # The attempt's number within the current budget (1 on the first attempt after a requeue).
    attempt: int
    # The attempts of the current budget: this is the last one when ``attempt == max_attempts``.
    max_attempts: int
    idempotency_key: str
    created_at: datetime
    options: dict[str, Any] = field(default_factory=dict)
    # What the previous attempt of this budget recorded (its DeliveryError.detail), e.g. a remote
    # job id to poll instead of submitting again. None on the first attempt of a budget.
    previous_detail: dict[str, Any] | None = None
    # How many times an operator requeued the delivery (0: never), and when it last was.
    requeues: int = 0
    requeued_at: datetime | None = None


@dataclass(slots=True)
class DeliveryResult:
    """A successful delivery: the far side's status, its reference for the item, and details."""

    status_code: int | None = None
    remote_ref: str | None = None
    detail: dict[str, Any] | None = None


class Destination:
    """An outbound system. Subclasses set ``name`` and implement ``deliver``.

    ``max_attempts`` and ``concurrency`` override the core's defaults for this destination
    (``None``: use ``[delivery]`` settings).
    """

    name: str = ""
    max_attempts: int | None = None
    concurrency: int | None = None

    async def deliver(self, message: StandardMessage, delivery: DeliveryInfo) -> DeliveryResult:
        """Send ``message``; return a ``DeliveryResult`` or raise ``DeliveryError``.

        Pass ``delivery.idempotency_key`` to the far side where it supports one: delivery is
        at-least-once, and a retry after a lost answer must not create a duplicate.
        """
        raise NotImplementedError(f"destination {self.name!r} does not implement deliver()")

    def retry_delay(self, attempt: int) -> float | None:
        """Seconds before attempt ``attempt + 1``; ``None`` for the core's backoff schedule."""
        return None

    def accepts(self, platform: str, kind: str | None = None) -> bool:
        """Whether this destination can deliver the messages of ``platform`` of ``kind`` (``None``:
        every message of ``platform``, whatever its kind). Every ``[[routes]]`` entry naming it is
        checked, at start-up and by ``switchboard config check``, with each of its ``kinds`` (or
        ``None`` when it lists none): a route it refuses stops start-up with one line, instead of
        storing deliveries that can only die, one per message. The default accepts everything."""
        return True


JobFunction = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class CronJob:
    """Run ``function(ctx)`` every ``every`` seconds (a divisor of 60 s, 60 min or 24 h).

    It runs at the multiples of ``every`` on the UTC clock, once per tick across the
    deployment, on the cron scheduler of an arq worker or of the local backend's process (not
    on the delivery queue). ``ctx["gateway"]`` is the gateway, ``ctx["tick"]`` the tick. Names
    are unique across the core and every plugin.
    """

    name: str
    function: JobFunction
    every: int
    run_at_startup: bool = False

    def __post_init__(self) -> None:
        if not any(
            self.every == n * unit and period % n == 0
            for unit, period in ((1, 60), (60, 60), (3600, 24))
            for n in range(1, period + 1)
        ):
            raise ValueError(f"CronJob {self.name!r}: every={self.every} does not divide a minute, hour or day")

    def arq_schedule(self) -> dict[str, set[int]]:
        if self.every < 60:
            return {"second": set(range(0, 60, self.every))}
        if self.every < 3600:
            return {"minute": set(range(0, 60, self.every // 60)), "second": {0}}
        return {"hour": set(range(0, 24, self.every // 3600)), "minute": {0}, "second": {0}}


def job_name(function: JobFunction) -> str:
    return getattr(function, "__qualname__", getattr(function, "__name__", repr(function)))


@dataclass(frozen=True)
class Command:
    """``switchboard <name> …``: ``arguments`` adds options to its parser; ``run`` does the work.

    ``run(gateway, args)`` gets a started gateway (database, HTTP client; no delivery
    workers) and returns the exit status. With ``needs_gateway=False`` none is built (no
    configuration, no database): ``run`` gets ``None`` (for commands such as ``new-plugin``).
    """

    name: str
    help: str
    run: Callable[[Gateway, argparse.Namespace], Awaitable[int]]
    arguments: Callable[[argparse.ArgumentParser], None] = field(default=lambda parser: None)
    needs_gateway: bool = True


@dataclass(frozen=True)
class ExportFile:
    """A file a plugin keeps about a person (a photo they sent), for their export's archive.

    Returned by ``switchboard_export_files``. ``name`` is its path in the archive, under the
    plugin's own folder (``"whatsapp/<message id>-<media id>.jpg"``); ``read()`` returns its bytes
    as the person would see them (opened, when the plugin stored it sealed). The core calls it
    once, in a thread, while it writes the archive, one file at a time.
    """

    name: str
    read: Callable[[], bytes]


@dataclass(frozen=True)
class Check:
    """An outside dependency of a plugin that ``/readyz`` and ``switchboard config check`` verify.

    Returned by ``switchboard_checks``. ``probe(thorough)`` returns when the dependency is
    usable and raises ``core.CheckFailed`` saying what is wrong and what to do when it is not
    (any other exception is reported by its type only). ``/readyz`` calls it with
    ``thorough=False`` on every poll, with a 3-second limit: one cheap request. ``switchboard
    config check`` calls it with ``thorough=True``, on a gateway that is not started (settings
    only): it may try what costs more, such as a write. ``name`` names it in both answers
    (``"reports:s3"``).
    """

    name: str
    probe: Callable[[bool], Awaitable[None]]


@dataclass(frozen=True)
class AdminPage:
    """A contribution to the admin UI (``switchboard_admin_pages``).

    ``path`` is where the page lives under ``/admin`` (``"/dhis2/mappings"``) and ``title`` its
    entry in the navigation. ``routes`` are Starlette routes mounted at ``/admin{path}``,
    guarded like any route (``core.requires``); ``templates`` is a folder the admin UI's
    template lookup searches after the user's folder and before its own defaults, so a page
    can ``{% extends "base.html" %}``. An endpoint renders with
    ``core.admin_console(request).render(request, "page.html", {...})``.
    """

    path: str
    title: str
    routes: list[Any] = field(default_factory=list)
    templates: str | None = None
    # The permission whose holders see the navigation entry (``"reports.read"``); without one,
    # ``role``: the least built-in role that sees it (what plugins said before permissions).
    permission: str | None = None
    role: str = "viewer"


class ReportType:
    """A kind of report the reports plugin can generate (from the ``switchboard_report_types`` hook).

    Subclasses set ``name`` (what a client asks for), ``title``, ``columns`` (the header of
    every row) and implement ``check_params`` and ``rows``. ``admin_only`` types may be asked
    for only by admins (and API keys with the ``reports:admin`` scope).
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    columns: ClassVar[tuple[str, ...]] = ()
    admin_only: ClassVar[bool] = False

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validate the client's ``params``; return them normalised (JSON-able, stored with the report).

        Raise ``core.Unprocessable`` with ``errors=[{"field": "params.<name>", "message": …}]``
        for a bad one; the client gets a 422 naming it. The default accepts no parameters.
        """
        if params:
            raise Unprocessable(
                "invalid params",
                errors=[{"field": f"params.{k}", "message": "not a parameter of this report"} for k in params],
            )
        return {}

    def rows(self, gateway: Gateway, params: dict[str, Any]) -> AsyncIterator[Sequence[Any]]:
        """The report's rows, in ``columns`` order, as an async iterator (``params`` as checked).

        Stream them: read the database in chunks (``core`` offers streams over messages,
        deliveries, attempts and the audit log) rather than building a list.
        """
        raise NotImplementedError(f"report type {self.name!r} does not implement rows()")


class AdminConsole(Protocol):
    """What the admin UI offers an ``AdminPage``'s endpoints: ``core.admin_console(request)``.

    ``render`` renders a template found in the page's ``templates`` folder (or the console's)
    with the console's common context added: ``principal`` (the ``core.Principal`` of the
    caller, also ``request.state.principal``), ``csrf_token`` (put it in a form's hidden field
    ``csrf_token``; HTMX requests send it as a header by themselves), ``can_write`` (operator or
    above), ``is_admin``, ``nav`` and ``path``. ``block`` names the ``{% block %}`` to answer an
    HTMX request with (the whole page otherwise). ``page_size`` is the rows per page of a list.
    ``redirect`` answers a form's POST by post/redirect/get, the page it leads to showing a
    notice and a one-time secret once.
    """

    page_size: int

    def render(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        block: str | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response: ...

    def redirect(
        self, request: Request, url: str, *, notice: str | None = None, secret: tuple[str, str] | None = None
    ) -> Response:
        """303 to ``url`` (an ``HX-Redirect`` for HTMX) after a POST, so a reload repeats nothing.

        The next console page this session renders shows ``notice`` and ``secret`` (a label and a
        value: a new API key, a temporary password) once, above its content, then forgets them:
        they travel encrypted in a cookie bound to the session, never in the URL or a log line.
        """
        ...
