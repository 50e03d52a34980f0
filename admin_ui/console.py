"""The console: its routes under ``/admin``, the plugins' pages, templates, and how a page is rendered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from admin_ui.figures import FigureCache
from admin_ui.flash import FLASH_COOKIE, flash_of, redirect_with
from admin_ui.sessions import PREFIX, AdminSession, csrf_of, signed_in
from admin_ui.settings import AdminSettings
from admin_ui.templating import build_environment, is_htmx, render_page
from core.auth.permissions import requires
from core.auth.roles import BUILTIN_ROLES
from core.contracts import AdminPage
from core.errors import AuthenticationError, HTTPError
from core.operations.destinations import held_destinations
from core.web.headers import CONSOLE_POLICY, SecurityHeaders, page_headers
from core.web.responses import validation_errors

if TYPE_CHECKING:
    from core.gateway import Gateway

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class NavEntry:
    title: str
    href: str
    permission: str | None = None  # who sees the entry: holders of this permission (None: everyone)
    section: str = "Traffic"


# The navigation in sections (a sidebar on a wide screen): a plugin's pages go in a section of
# their own, named after the plugin, after the console's.
CORE_NAV = (
    NavEntry("Dashboard", "/admin/", "traffic.read", section="Traffic"),
    NavEntry("Deliveries", "/admin/deliveries", "traffic.read", section="Traffic"),
    NavEntry("Messages", "/admin/messages", "content.read", section="Traffic"),
    NavEntry("Conversations", "/admin/conversations", "content.read", section="Traffic"),
    NavEntry("Destinations and jobs", "/admin/destinations", "traffic.read", section="Destinations"),
    NavEntry("Logs", "/admin/logs", "audit.read", section="Data"),
    NavEntry("Users", "/admin/users", "users.manage", section="People"),
    NavEntry("API keys", "/admin/keys", "users.manage", section="People"),
    NavEntry("Roles", "/admin/roles", "users.manage", section="People"),
    NavEntry("Privacy", "/admin/privacy", "privacy.manage", section="People"),
    NavEntry("Plugins", "/admin/plugins", "traffic.read", section="Settings"),
)


def nav_sections(entries: list[NavEntry]) -> list[tuple[str, list[NavEntry]]]:
    """The entries by section, sections in the order they first appear."""
    sections: dict[str, list[NavEntry]] = {}
    for entry in entries:
        sections.setdefault(entry.section, []).append(entry)
    return list(sections.items())


def _nav_permission(page: AdminPage) -> str:
    """Who sees a plugin page's entry: holders of its permission, else of its built-in role's (plugins before permissions)."""
    return page.permission if page.permission is not None else page.role


def _cannot(permission: str) -> bool:
    return False


class Console:
    """One app's console: built from its gateway when the app is built."""

    def __init__(self, gateway: Gateway, settings: AdminSettings) -> None:
        self.gateway = gateway
        self.settings = settings
        by_plugin = gateway.plugins.each("switchboard_admin_pages", gateway=gateway)
        owned = [(plugin, p) for plugin, pages in by_plugin.items() for p in pages if isinstance(p, AdminPage)]
        self.pages: list[AdminPage] = [p for _, p in owned]
        self.nav = [
            *CORE_NAV,
            *(NavEntry(p.title, f"/admin{p.path}", _nav_permission(p), _section_of(plugin)) for plugin, p in owned),
        ]
        roles = gateway.roles
        # What each entry asks of the caller's role (a built-in role's name: every permission it holds).
        self.nav_needs = {
            n.href: roles.of_builtin(n.permission) if n.permission in BUILTIN_ROLES else frozenset([n.permission])
            for n in self.nav
            if n.permission is not None
        }
        self.operator_holds, self.admin_holds = roles.of_builtin("operator"), roles.of_builtin("admin")
        self.env = build_environment(settings.templates_dir, [p.templates for p in self.pages if p.templates])
        self.figures = FigureCache(settings.dashboard_cache_seconds)

    @property
    def page_size(self) -> int:
        """Rows per page of a list (``[plugins.admin] page_size``)."""
        return self.settings.page_size

    def render(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        block: str | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """Render a page with the console's common context (the caller, its rights, the navigation)."""
        principal = signed_in(request)
        # What the POST that redirected here had to say: shown by this whole page once, never by a fragment.
        flash = None if is_htmx(request) or FLASH_COOKIE not in request.cookies else flash_of(request, self.gateway)
        full = {
            "request": request,
            "principal": principal,
            "csrf_token": csrf_of(request),
            "nav": nav_sections(
                [
                    n
                    for n in self.nav
                    if principal is not None and self.nav_needs.get(n.href, frozenset()) <= principal.permissions
                ]
            ),
            # ``{% if can("deliveries.repair") %}``: whether the caller's role holds a permission.
            "can": principal.can if principal is not None else _cannot,
            # What templates written before permissions ask: all that the built-in operator, or admin, holds.
            "can_write": principal is not None and self.operator_holds <= principal.permissions,
            "is_admin": principal is not None and self.admin_holds <= principal.permissions,
            "path": request.url.path,
            "errors": {},
            "flash": flash,
            "held": getattr(request.state, "held_destinations", None) or [],
            "partial": is_htmx(request),  # only a block is sent: errors shown beside inputs are not in it
            **(context or {}),
        }
        response = render_page(self.env, request, name, full, block=block, status_code=status_code, headers=headers)
        if FLASH_COOKIE in request.cookies and not is_htmx(request):
            response.delete_cookie(FLASH_COOKIE, path=PREFIX)
        return response

    def redirect(
        self, request: Request, url: str, *, notice: str | None = None, secret: tuple[str, str] | None = None
    ) -> Response:
        """Post/redirect/get for a plugin's page: ``url`` shows ``notice`` and ``secret`` once (``admin_ui.flash``)."""
        return redirect_with(request, self.gateway, url, notice=notice, secret=secret)

    async def error_page(self, request: Request, exc: HTTPError) -> Response:
        errors = getattr(exc, "errors", None) or []
        return self.render(
            request,
            "error.html",
            {"status": exc.status_code, "message": str(exc), "errors": errors},
            block="content",
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None) or {},
        )

    def mount(self, own_routes: Sequence[BaseRoute]) -> Mount:
        """``/admin``: the console's ``own_routes`` (``admin_ui.views``, which import this module), then the plugins' pages."""
        static = StaticFiles(directory=str(STATIC))
        requires(public=True)(static)  # the login page needs its stylesheet and script
        routes: list[BaseRoute] = [*own_routes, Mount("/static", app=static, name="static")]
        for page in self.pages:
            routes.append(Mount(page.path, routes=list(page.routes)))
        return Mount(
            "/admin",
            routes=routes,
            middleware=[
                # Outermost, so the login redirect and the error pages carry them too.
                Middleware(SecurityHeaders, headers=page_headers(CONSOLE_POLICY)),
                Middleware(_ConsoleState, console=self),
                Middleware(AdminSession, gateway=self.gateway, error_page=self.error_page),
                Middleware(_ConsoleErrors),
            ],
        )


def _section_of(plugin: str) -> str:
    """A plugin's section of the navigation, named after it (``dhis2`` → ``DHIS2``, ``reports`` → ``Reports``)."""
    return plugin.upper() if any(c.isdigit() for c in plugin) else plugin.replace("_", " ").capitalize()


class _ConsoleState:
    """Puts the console in the request state for views and plugin pages (``core.admin_console``)."""

    def __init__(self, app: Any, console: Console) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        state = scope.setdefault("state", {})
        state["admin"] = self.console
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and not str(scope["path"]).startswith(f"{PREFIX}/static")
        ):
            request = Request(scope)
            if not is_htmx(request):
                # The navigation of every whole page shows the destinations held back (paused, breaker open).
                state["held_destinations"] = await held_destinations(self.console.gateway)
        await self.app(scope, receive, send)


class _ConsoleErrors:
    """Every refusal under ``/admin`` reaches ``AdminSession`` as an ``HTTPError``, which answers it as a page.

    The app's handlers answer JSON, and Starlette applies them inside each route, before any
    middleware of the mount sees the error: here they are replaced for the console's requests,
    and Starlette's own 404 and 405 (raised by the router) are turned into ``HTTPError`` too.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        scope["starlette.exception_handlers"] = (
            {HTTPException: _as_http_error, ValidationError: _as_http_error, AuthenticationError: _as_http_error},
            {},
        )
        try:
            await self.app(scope, receive, send)
        except HTTPException as exc:
            _as_http_error(Request(scope), exc)


def _as_http_error(request: Request, exc: Exception) -> Response:
    """Raise the ``HTTPError`` the console answers for ``exc`` (a handler that raises passes it on)."""
    if isinstance(exc, HTTPException):
        message = {404: "There is no such page.", 405: "This address does not take that kind of request."}
        raise HTTPError(message.get(exc.status_code, str(exc.detail)), status_code=exc.status_code) from exc
    if isinstance(exc, AuthenticationError):
        raise HTTPError(str(exc), status_code=exc.status_code) from exc
    if isinstance(exc, ValidationError):
        raise HTTPError("some fields are not valid", status_code=422, errors=validation_errors(exc)) from exc
    raise exc


def console_of(request: Request) -> Console:
    return request.state.admin  # type: ignore[no-any-return]
